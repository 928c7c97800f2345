/**
 * Turns one received syslog message (RFC 3164 or RFC 5424, without framing)
 * into the line rsyslog's traditional file format writes for it:
 * `Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`. fail2ban filters are written
 * against such files, so they apply to these lines unchanged.
 */
export interface SyslogLine {
  /** HOSTNAME from the message, else the sender's address. */
  host: string
  line: Buffer
}

export interface SyslogContext {
  /** The sender's IP address: the host of a message that names none. */
  remote_address: string
  /** Wall-clock milliseconds of receipt: the time of a message that carries none. */
  received_at: number
  /**
   * IANA zone for times rendered from an instant (RFC 5424 and RFC 3339
   * stamps, or receipt): the zone the detect stage reads yearless dates in.
   * Default: the process's zone.
   */
  time_zone?: string
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const TRADITIONAL = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d)(?:\.\d{1,6})?(?: |$)/
const RFC3339 = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d))(?: |$)/
const HOSTNAME = /^([A-Za-z0-9._:-]{1,255}) /
const BOM = Buffer.from([0xef, 0xbb, 0xbf])
// Generous for any header: PRI, version, timestamp, HOSTNAME (255), APP-NAME, PROCID and MSGID.
const HEADER_BYTES = 512

/** The file line for a message, or undefined for an empty one. */
export function renderSyslogMessage(message: Buffer, context: SyslogContext): SyslogLine | undefined {
  let end = message.length
  while (end > 0 && (message[end - 1] === 0x0a || message[end - 1] === 0x0d || message[end - 1] === 0x00)) end--
  const body = message.subarray(0, end)
  if (body.length === 0) return undefined
  const start = priorityEnd(body)
  return (body[start] === 0x31 && body[start + 1] === 0x20 && rfc5424(body, start + 2, context)) || rfc3164(body, start, context)
}

/** Where the message after `<PRI>` begins; 0 when there is no valid PRI (rsyslog then keeps the whole text). */
function priorityEnd(body: Buffer): number {
  if (body[0] !== 0x3c) return 0
  const close = body.subarray(0, 5).indexOf(0x3e)
  if (close < 2) return 0
  const digits = body.toString('latin1', 1, close)
  return /^\d{1,3}$/.test(digits) && Number(digits) <= 191 ? close + 1 : 0
}

function rfc3164(body: Buffer, start: number, context: SyslogContext): SyslogLine {
  const head = body.toString('latin1', start, Math.min(body.length, start + HEADER_BYTES))
  let at = 0
  let timestamp: string | undefined
  const traditional = TRADITIONAL.exec(head)
  const iso = traditional ? undefined : RFC3339.exec(head)
  if (traditional && MONTHS.includes(traditional[1]!)) {
    timestamp = `${traditional[1]} ${traditional[2]!.padStart(2, ' ')} ${traditional[3]}`
    at = traditional[0].length
  } else if (iso) {
    timestamp = traditionalTimestamp(instantOr(iso[1]!, context.received_at), context.time_zone)
    at = iso[0].length
  }
  let host = context.remote_address
  // Without a timestamp the first word is taken as the message's, as rsyslog does; a word ending in ':' or
  // holding '[' or '/' is the tag of a message that names no host (what a local daemon sends).
  const hostname = timestamp === undefined ? null : HOSTNAME.exec(head.slice(at))
  if (hostname && !hostname[1]!.endsWith(':')) {
    host = hostname[1]!
    at += hostname[0].length
  }
  const rest = body.subarray(start + at)
  return { host, line: join(timestamp ?? traditionalTimestamp(context.received_at, context.time_zone), host, rest) }
}

/** RFC 5424 after `<PRI>1 `; undefined when the header is malformed (the message is then read as RFC 3164). */
function rfc5424(body: Buffer, start: number, context: SyslogContext): SyslogLine | undefined {
  const head = body.toString('latin1', start, Math.min(body.length, start + HEADER_BYTES))
  const fields = /^(\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) /.exec(head)
  if (!fields) return undefined
  const [, stamp, hostname, app, procid] = fields as unknown as [string, string, string, string, string]
  let time = context.received_at
  if (stamp !== '-') {
    if (!RFC3339.test(`${stamp} `)) return undefined
    time = instantOr(stamp, context.received_at)
  }
  const dataEnd = structuredDataEnd(body, start + fields[0].length)
  if (dataEnd === undefined) return undefined
  let message = body.subarray(body[dataEnd] === 0x20 ? dataEnd + 1 : dataEnd)
  if (message.subarray(0, 3).equals(BOM)) message = message.subarray(3)
  const host = hostname === '-' ? context.remote_address : hostname
  const tag = app === '-' ? '' : procid === '-' ? `${app}:` : `${app}[${procid}]:`
  const rest = tag === '' ? message : Buffer.concat([Buffer.from(message.length > 0 ? `${tag} ` : tag, 'latin1'), message])
  return { host, line: join(traditionalTimestamp(time, context.time_zone), host, rest) }
}

/** The instant of an RFC 3339 stamp; `fallback` (the receipt) for one shaped like a stamp that names no instant (hour 25, month 13), as rsyslog does. */
function instantOr(stamp: string, fallback: number): number {
  const ms = Date.parse(stamp)
  return Number.isNaN(ms) ? fallback : ms
}

/** The index after STRUCTURED-DATA (`-` or `[id k="v"]...`, values with `\"`, `\\`, `\]` escapes), if well formed. */
function structuredDataEnd(body: Buffer, at: number): number | undefined {
  if (body[at] === 0x2d) return at + 1
  let i = at
  while (body[i] === 0x5b) {
    let quoted = false
    for (i++; i < body.length; i++) {
      const c = body[i]
      if (quoted) {
        if (c === 0x5c) i++
        else if (c === 0x22) quoted = false
      } else if (c === 0x22) quoted = true
      else if (c === 0x5d) break
    }
    if (i >= body.length) return undefined
    i++
  }
  if (i === at || (i < body.length && body[i] !== 0x20)) return undefined
  return i
}

function join(timestamp: string, host: string, rest: Buffer): Buffer {
  const text = escapeControlCharacters(rest[0] === 0x20 ? rest.subarray(1) : rest)
  return Buffer.concat([Buffer.from(`${timestamp} ${host} `, 'latin1'), text])
}

/** rsyslog's escaping of control characters on receipt: `#` and three octal digits (a newline becomes #012). */
function escapeControlCharacters(text: Buffer): Buffer {
  if (!text.some((c) => c < 0x20 || c === 0x7f)) return text
  const parts: Buffer[] = []
  let from = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c >= 0x20 && c !== 0x7f) continue
    parts.push(text.subarray(from, i), Buffer.from(`#${c.toString(8).padStart(3, '0')}`, 'latin1'))
    from = i + 1
  }
  parts.push(text.subarray(from))
  return Buffer.concat(parts)
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>()

/** `Mmm dd hh:mm:ss` of an instant, the day padded with a space as syslog writes it. */
export function traditionalTimestamp(ms: number, timeZone?: string): string {
  let month: number, day: number, hour: number, minute: number, second: number
  if (timeZone === undefined) {
    const date = new Date(ms)
    ;[month, day, hour, minute, second] = [date.getMonth(), date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()]
  } else {
    let format = zoneFormats.get(timeZone)
    if (!format) {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      })
      zoneFormats.set(timeZone, format)
    }
    const parts = Object.fromEntries(format.formatToParts(ms).map((part) => [part.type, Number(part.value)]))
    ;[month, day, hour, minute, second] = [parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!]
  }
  const two = (n: number) => String(n).padStart(2, '0')
  return `${MONTHS[month]} ${String(day).padStart(2, ' ')} ${two(hour)}:${two(minute)}:${two(second)}`
}
