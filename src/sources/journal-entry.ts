import { shellWords } from '../config/shell-words.js'

/** One entry of `journalctl -o json`, as fail2ban's systemd backend turns it into a line. */
export interface JournalLine {
  /** _HOSTNAME, or '' when the entry has none. */
  host: string
  line: Buffer
  /** _SOURCE_REALTIME_TIMESTAMP, else __REALTIME_TIMESTAMP, in milliseconds since the epoch. */
  time_ms: number
  cursor?: string
}

/** The fields formatJournalEntry reads; journalctl always adds __CURSOR and the timestamps. */
export const JOURNAL_FIELDS = [
  '_HOSTNAME',
  'SYSLOG_IDENTIFIER',
  'SYSLOG_PID',
  '_PID',
  '_COMM',
  'MESSAGE',
  '_SOURCE_REALTIME_TIMESTAMP',
  '_SOURCE_MONOTONIC_TIMESTAMP',
]

/**
 * fail2ban's FilterSystemd.formatJournalEntry: `HOSTNAME IDENT[PID]: MESSAGE`,
 * IDENT being SYSLOG_IDENTIFIER (PID from SYSLOG_PID, else _PID) or else _COMM
 * (with _PID), and for the kernel its monotonic time as `[%12.6f]` seconds
 * before the message. A field missing or empty is left out. journalctl
 * writes a value that is not valid UTF-8 as an array of bytes: those bytes
 * are kept. A field given several times is taken by its first value, except
 * MESSAGE whose values are joined with spaces. Undefined when the entry has
 * no timestamp to place it in time.
 */
export function formatJournalEntry(entry: Record<string, unknown>): JournalLine | undefined {
  const time = microseconds(entry._SOURCE_REALTIME_TIMESTAMP) ?? microseconds(entry.__REALTIME_TIMESTAMP)
  if (time === undefined) return undefined
  const elements: Buffer[] = []
  const host = field(entry._HOSTNAME)
  if (host) elements.push(host)
  const identifier = field(entry.SYSLOG_IDENTIFIER)
  const command = identifier ? undefined : field(entry._COMM)
  const tag = identifier ?? command
  if (tag) {
    const pid = (identifier && field(entry.SYSLOG_PID)) || field(entry._PID)
    const label = Buffer.concat([tag, pid ? Buffer.from(`[${formatPid(pid)}]`) : Buffer.alloc(0), Buffer.from(':')])
    elements.push(label)
    if (label.toString('latin1') === 'kernel:') {
      const monotonic = microseconds(entry._SOURCE_MONOTONIC_TIMESTAMP) ?? microseconds(entry.__MONOTONIC_TIMESTAMP)
      if (monotonic !== undefined) elements.push(Buffer.from(`[${seconds(monotonic).padStart(12, ' ')}]`))
    }
  }
  elements.push(message(entry.MESSAGE))
  const cursor = typeof entry.__CURSOR === 'string' ? entry.__CURSOR : undefined
  return {
    host: host?.toString('utf8') ?? '',
    line: joinWithSpaces(elements),
    time_ms: Number(time) / 1000,
    ...(cursor !== undefined && { cursor }),
  }
}

/** A field's bytes: a string, a byte array, or the first of several values; undefined when absent or empty. */
function field(value: unknown): Buffer | undefined {
  const bytes = Array.isArray(value) && !isByteArray(value) ? field(value[0]) : valueBytes(value)
  return bytes && bytes.length > 0 ? bytes : undefined
}

function message(value: unknown): Buffer {
  if (Array.isArray(value) && !isByteArray(value)) return oneLine(joinWithSpaces(value.map((part) => valueBytes(part) ?? Buffer.alloc(0))))
  return oneLine(valueBytes(value) ?? Buffer.alloc(0))
}

const NL = 0x0a

/**
 * A message as one line: fail2ban drops its trailing newlines (named writes them), and the newlines
 * left inside are written as rsyslog writes them, `#012`. A line holds none (see line-batch-record.ts):
 * kept, one would make the whole batch unreadable, and a text a client chose could drop its
 * failures with those of its neighbours, or pose as a line of its own.
 */
function oneLine(text: Buffer): Buffer {
  let end = text.length
  while (end > 0 && text[end - 1] === NL) end--
  const trimmed = text.subarray(0, end)
  if (!trimmed.includes(NL)) return trimmed
  const parts: Buffer[] = []
  let from = 0
  for (let at = trimmed.indexOf(NL); at >= 0; at = trimmed.indexOf(NL, from)) {
    parts.push(trimmed.subarray(from, at), ESCAPED_NL)
    from = at + 1
  }
  parts.push(trimmed.subarray(from))
  return Buffer.concat(parts)
}
const ESCAPED_NL = Buffer.from('#012')

function valueBytes(value: unknown): Buffer | undefined {
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (Array.isArray(value) && isByteArray(value)) return Buffer.from(value)
  return undefined
}

function isByteArray(value: unknown[]): value is number[] {
  return value.length > 0 && typeof value[0] === 'number'
}

/** `%i` of an integer PID as Python prints it; any other value as it is (as newer fail2ban does). */
function formatPid(pid: Buffer): string {
  const text = pid.toString('utf8')
  return /^\s*[+-]?\d+\s*$/.test(text) ? String(BigInt(text.trim())) : text
}

function microseconds(value: unknown): bigint | undefined {
  return typeof value === 'string' && /^\d+$/.test(value) ? BigInt(value) : undefined
}

function seconds(us: bigint): string {
  return `${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, '0')}`
}

function joinWithSpaces(parts: Buffer[]): Buffer {
  const joined: Buffer[] = []
  parts.forEach((part, i) => {
    if (i > 0) joined.push(SPACE)
    joined.push(part)
  })
  return Buffer.concat(joined)
}

const SPACE = Buffer.from(' ')

/**
 * journalctl's match arguments for fail2ban's `journalmatch`: each line is
 * split as a shell would (fail2ban uses shlex), `+` separates alternatives
 * within a line, and the lines themselves are alternatives.
 * `_SYSTEMD_UNIT=sshd.service + _COMM=sshd` → [`_SYSTEMD_UNIT=sshd.service`, `+`, `_COMM=sshd`].
 */
export function journalMatchArgs(journalmatch: string): string[] {
  const args: string[] = []
  for (const line of journalmatch.split('\n')) {
    const words = shellWords(line)
    if (words.length === 0) continue
    if (args.length > 0) args.push('+')
    args.push(...words)
  }
  return args
}
