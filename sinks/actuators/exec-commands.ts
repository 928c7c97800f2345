import { formatAddress, parseAddress, type Address } from '../../schemas/events/address.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'

/**
 * The shell commands of the exec actuator: a fail2ban action.d file's
 * actionstart / actionban / ... for one jail, with the tags fail2ban fills at
 * run time (<ip>, <matches>, <F-USER>, <fq-hostname>, ...) filled for one ban.
 * Nothing here runs a command.
 *
 * Only the action's own text reaches the shell as code. What a ban brings is
 * validated or quoted: the address is re-serialised from its parsed form (and
 * <ip-rev>, <family> derived from it), numbers are written as numbers, and
 * every other value (log lines, captured user names, the failure id, host
 * names) is single-quoted into a shell variable set on the script's first
 * lines (`f2bV_F_USER='...'`, fail2ban's names), and the tag becomes a
 * reference to it: `"${f2bV_F_USER}"` outside quotes, `${f2bV_F_USER}` inside
 * the action's double quotes. Inside its single quotes, which usually hold
 * another program's text (`sh -c '...'`, awk, sed, ssh), a value is spliced
 * only when it holds none of the characters fail2ban escapes; otherwise, as
 * fail2ban 1.x writes it there, the text `$f2bV_F_USER` stands in its place,
 * so no other program ever reads a log line's text as its own code.
 * The value itself never stands in the action's text, so whatever the
 * surrounding syntax (a comment, a here-document, backticks, a `case`
 * pattern the quoting analysis misreads) nothing in it is ever parsed: at
 * worst a reference is not expanded or is split into words.
 */

/** Thrown for an action that cannot be run safely or fully: a tag nothing fills, a value in a place it cannot be quoted, a bad address. */
export class ExecInputError extends Error {
  readonly code = 'BANSTREAM_ERR_EXEC_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'ExecInputError'
  }
}

export type Family = 'inet4' | 'inet6'
/** The family a command was rendered for; '' = without a family (an action with no `?family=` options). */
export type FamilyKey = Family | ''
export const FAMILY_KEYS: readonly FamilyKey[] = ['', 'inet4', 'inet6']

/** Commands run with no ban: fail2ban fills only configuration tags in them. */
export const STATIC_OPERATIONS = ['actionstart', 'actionstop', 'actioncheck', 'actionrepair', 'actionflush'] as const
/** Commands run for one ban: the ban's tags are filled too. */
export const BAN_OPERATIONS = ['actionban', 'actionunban', 'actionprolong', 'actionreban'] as const
export type StaticOperation = (typeof STATIC_OPERATIONS)[number]
export type BanOperation = (typeof BAN_OPERATIONS)[number]
export type Operation = StaticOperation | BanOperation

/**
 * An action.d file as one jail uses it, with its configuration filled in
 * (src/roles/exec-action.ts reads it): each command per family as fail2ban's
 * replaceTag leaves it before the run-time tags, and the action's settings.
 */
export interface ExecActionSource {
  readonly jail: string
  /** The action.d file, for messages. */
  readonly file: string
  /** fail2ban's <actname>: the action's name in the jail. */
  readonly actname: string
  /** Each operation's command per family; '' or blank = none. */
  readonly commands: Readonly<Record<Operation, Readonly<Record<FamilyKey, string>>>>
  /** The action's `timeout` option: how long one command may run (fail2ban default 60). */
  readonly timeout_secs: number
  /** `norestored`: not run for bans restored at start (mail actions). */
  readonly norestored: boolean
  /** `actionstart_on_demand` (by default: whether the action has `?family=` options): start each family at its first ban. */
  readonly start_on_demand: boolean
  /** `actionrepair_on_unban`: repair a failed actioncheck before an unban too (otherwise the unban fails). */
  readonly repair_on_unban: boolean
  /** The families actionstart runs for when not on demand: both for an action with `?family=` options, else ''. */
  readonly families: readonly FamilyKey[]
  /**
   * Whether `<tag>` is written as such in the action's files. A tag that only
   * appears once others are filled (pf's `<<tablename>-<name>>` becomes
   * `<f2b-sshd>`, a pf table) is the command's own text, as fail2ban leaves it.
   */
  readonly written: (tag: string) => boolean
}

/**
 * Where a tag stands, for the reference that expands to its value as one word
 * there: outside quotes, inside "..." or '...', in the body of a here-document
 * that expands (`<<EOF`), or in one that does not (`<<'EOF'`), where no
 * reference expands.
 */
type Context = 'unquoted' | 'double' | 'single' | 'heredoc' | 'literal'
type Segment = string | { readonly tag: string; readonly context: Context }

/** An action ready to run: each command split at the tags a ban or the host fills. */
export interface ExecAction {
  readonly jail: string
  readonly file: string
  readonly actname: string
  readonly timeout_secs: number
  readonly norestored: boolean
  readonly start_on_demand: boolean
  readonly repair_on_unban: boolean
  readonly families: readonly FamilyKey[]
  readonly templates: Readonly<Record<Operation, Readonly<Record<FamilyKey, readonly Segment[]>>>>
}

/** The host's names for <fq-hostname> and <sh-hostname>. */
export interface HostNames {
  readonly fq: string
  readonly short: string
}

/** What fail2ban's ActionInfo tells an action about one ban. */
export interface BanFacts {
  readonly ip: Address
  /** <fid>: the failure id when it was not the address. */
  readonly fid?: string
  readonly failures: number
  /** <time>: when the ban started, epoch seconds. */
  readonly time_secs: number
  /** <bantime>: -1 = permanent. */
  readonly bantime_secs: number
  readonly bancount: number
  readonly matches: readonly string[]
  /** <restored>: the ban is put back at start rather than newly decided. */
  readonly restored: boolean
  /** <F-NAME> values captured by the filter, by fail2ban's option name (`user` for <F-USER>, `fid`, `fport`). */
  readonly captures?: Readonly<Record<string, string>>
  /** <ip-host>: the address's DNS name, when looked up. */
  readonly ip_host?: string
}

// Filled with the value as is: each is re-serialised or a number, so holds no shell syntax.
const RAW_TAGS = new Set(['ip', 'ip-rev', 'family', 'failures', 'ipfailures', 'ipjailfailures', 'time', 'bantime', 'bancount', 'restored'])
// Filled through a single-quoted shell variable: text from logs, filters and DNS.
const QUOTED_BAN_TAGS = new Set(['fid', 'matches', 'ipmatches', 'ipjailmatches', 'ip-host'])
const HOST_TAGS = new Set(['fq-hostname', 'sh-hostname'])
const CAPTURE_TAG = /^F-([A-Z0-9_-]+)$/
// fail2ban's failregex.R_MAP: the captures whose option name differs from the tag.
const CAPTURE_NAMES: Record<string, string> = { id: 'fid', port: 'fport' }
const TAG_AT = /<([^ <>]+)>/y

function isBanOperation(op: Operation): op is BanOperation {
  return (BAN_OPERATIONS as readonly string[]).includes(op)
}

/** Whether the run time fills the tag in this command: host names always, a ban's tags in the commands for a ban. */
function fills(op: Operation, tag: string): boolean {
  if (HOST_TAGS.has(tag)) return true
  return isBanOperation(op) && (RAW_TAGS.has(tag) || QUOTED_BAN_TAGS.has(tag) || CAPTURE_TAG.test(tag))
}

/** A quoting level: the command, or the inside of a `$(...)` or of backticks, which quote afresh. */
interface Level {
  readonly kind: 'top' | 'paren' | 'backtick'
  mode: 'unquoted' | 'double' | 'single'
  /** Open `(` of this level, which the next `)` closes before it could close `$(`. */
  depth: number
  /** Open `case` of this level: its patterns end with `)`, which close nothing. */
  cases: number
}

interface HereDocument { readonly delimiter: string; readonly expands: boolean; readonly stripTabs: boolean }

const HEREDOC_AT = /<<(-?)[ \t]*((?:[^\s;&|<>()'"\\]|'[^']*'|"[^"]*"|\\.)+)/y
const CASE_AT = /(case|esac)(?=[\s;&|()]|$)/y

/**
 * Splits a command at its tags, noting for each where it stands (POSIX sh
 * quoting: `$(...)` and backticks open a fresh level of quoting, a here-
 * document's body is read as the shell reads it, `case` patterns end with a
 * `)` that closes nothing), to write the reference to a value so that it
 * expands to exactly the value there.
 */
function segments(command: string): Segment[] {
  const out: Segment[] = []
  const levels: Level[] = [{ kind: 'top', mode: 'unquoted', depth: 0, cases: 0 }]
  const pending: HereDocument[] = []
  let text = ''
  const flush = () => {
    if (text !== '') out.push(text)
    text = ''
  }
  const pushTag = (tag: string, context: Context) => {
    flush()
    out.push({ tag, context })
  }
  for (let i = 0; i < command.length;) {
    const level = levels.at(-1)!
    const c = command[i]!
    TAG_AT.lastIndex = i
    const tag = c === '<' ? TAG_AT.exec(command) : null
    if (tag) {
      pushTag(tag[1]!, level.mode)
      i += tag[0].length
      continue
    }
    let step = 1
    const wordStart = i === 0 || /[\s;&|()`]/.test(command[i - 1]!)
    if (c === '`' && level.mode !== 'single' || c === '`' && levels.some((l) => l.kind === 'backtick')) {
      // The first backtick not escaped ends the innermost backtick level, whatever its quotes.
      let at = levels.length - 1
      while (at > 0 && levels[at]!.kind !== 'backtick') at--
      if (at > 0) levels.length = at
      else levels.push({ kind: 'backtick', mode: 'unquoted', depth: 0, cases: 0 })
    } else if (level.mode === 'single') {
      if (c === "'") level.mode = 'unquoted'
    } else if (c === '\\') {
      step = 2
    } else if (c === '$' && command[i + 1] === '(') {
      levels.push({ kind: 'paren', mode: 'unquoted', depth: 0, cases: 0 })
      step = 2
    } else if (level.mode === 'double') {
      if (c === '"') level.mode = 'unquoted'
    } else if (c === '#' && wordStart) {
      // A comment: its quotes are no quotes; it ends with the line.
      const end = command.indexOf('\n', i)
      step = (end < 0 ? command.length : end) - i
    } else if (c === "'") {
      level.mode = 'single'
    } else if (c === '"') {
      level.mode = 'double'
    } else if (c === '(') {
      level.depth++
    } else if (c === ')') {
      if (level.depth > 0) level.depth--
      else if (level.cases === 0 && level.kind === 'paren') levels.pop()
    } else if (c === '<' && command[i + 1] === '<' && command[i + 2] !== '<') {
      HEREDOC_AT.lastIndex = i
      const m = HEREDOC_AT.exec(command)
      if (m) {
        const word = m[2]!
        pending.push({ delimiter: word.replace(/['"\\]/g, ''), expands: !/['"\\]/.test(word), stripTabs: m[1] === '-' })
        step = m[0].length
      }
    } else if (c === '\n' && pending.length > 0) {
      text += c
      i = hereDocuments(command, i + 1, pending.splice(0), (s) => (text += s), pushTag)
      continue
    } else if (wordStart) {
      CASE_AT.lastIndex = i
      const word = CASE_AT.exec(command)?.[1]
      if (word === 'case') level.cases++
      else if (word === 'esac' && level.cases > 0) level.cases--
    }
    text += command.slice(i, i + step)
    i += step
  }
  flush()
  return out
}

/**
 * Reads the bodies of the here-documents a line opened, from `from` on: each
 * ends at a line that is its delimiter (after leading tabs, for `<<-`). Tags
 * in a body are 'heredoc' where it expands, 'literal' where it does not.
 * Returns where the command goes on.
 */
function hereDocuments(
  command: string, from: number, docs: readonly HereDocument[],
  emit: (text: string) => void, pushTag: (tag: string, context: Context) => void,
): number {
  let i = from
  for (const doc of docs) {
    while (i < command.length) {
      const eol = command.indexOf('\n', i)
      const end = eol < 0 ? command.length : eol
      const line = command.slice(i, end)
      const next = eol < 0 ? end : end + 1
      if ((doc.stripTabs ? line.replace(/^\t+/, '') : line) === doc.delimiter) {
        emit(command.slice(i, next))
        i = next
        break
      }
      for (let k = 0; k < line.length;) {
        TAG_AT.lastIndex = k
        const tag = line[k] === '<' ? TAG_AT.exec(line) : null
        if (tag) {
          pushTag(tag[1]!, doc.expands ? 'heredoc' : 'literal')
          k += tag[0].length
        } else {
          emit(line[k]!)
          k++
        }
      }
      emit(command.slice(end, next))
      i = next
    }
  }
  return i
}

/**
 * Checks every command of the action and splits it for rendering. Throws
 * ExecInputError naming the file, command and tag when a command has a tag
 * written in the action that nothing fills (an argument the jail must give,
 * such as `port`).
 */
export function execAction(source: ExecActionSource): ExecAction {
  const templates = {} as Record<Operation, Record<FamilyKey, Segment[]>>
  for (const op of [...STATIC_OPERATIONS, ...BAN_OPERATIONS]) {
    const byFamily = {} as Record<FamilyKey, Segment[]>
    for (const family of FAMILY_KEYS) {
      const parts = segments(source.commands[op][family])
      if (family !== '' || source.families.includes('')) {
        for (const part of parts) {
          if (typeof part === 'string') continue
          if (!fills(op, part.tag) && source.written(part.tag)) {
            throw new ExecInputError(`${source.file}: ${op} has <${part.tag}>, which neither the action nor the jail's arguments fill${family ? ` (family ${family})` : ''}`)
          }
          if (part.context === 'literal' && fills(op, part.tag) && !RAW_TAGS.has(part.tag)) {
            throw new ExecInputError(`${source.file}: ${op} has <${part.tag}> in a here-document that expands nothing (a quoted delimiter): no value can be put there safely`)
          }
        }
      }
      byFamily[family] = parts
    }
    templates[op] = byFamily
  }
  const { commands: _commands, written: _written, ...settings } = source
  return { ...settings, templates }
}

/** Whether the action has this command (for this family). */
export function hasCommand(action: ExecAction, op: Operation, family: FamilyKey): boolean {
  return action.templates[op][family].some((part) => typeof part !== 'string' || part.trim() !== '')
}

/** Whether the command uses `<tag>` (for lookups worth doing only when needed, like <ip-host>). */
export function usesTag(action: ExecAction, op: Operation, family: FamilyKey, tag: string): boolean {
  return action.templates[op][family].some((part) => typeof part !== 'string' && part.tag === tag)
}

/** The family of an address or network, as fail2ban's <family>. */
export function familyOf(address: Address): Family {
  return address.family === 4 ? 'inet4' : 'inet6'
}

/** Parses a decision's address; ExecInputError when it is none. */
export function execAddress(text: string): Address {
  const address = parseAddress(text)
  if (!address) throw new ExecInputError(`${JSON.stringify(text)} is not an IP address or network`)
  return address
}

/** A ban's facts as fail2ban's ActionInfo gives them (no ban database: the ip* merges are this ban's own). */
export function banFacts(ban: BanIssued, restored: boolean): BanFacts {
  return {
    ip: execAddress(ban.ip),
    ...(ban.fid === undefined ? {} : { fid: ban.fid }),
    failures: ban.failures,
    time_secs: Date.parse(ban.occurred_at) / 1000,
    bantime_secs: ban.ban_time_secs,
    bancount: ban.ban_count,
    matches: ban.matches,
    restored,
    ...(ban.user === undefined && ban.fid === undefined ? {} : { captures: captured(ban) }),
  }
}

/** The filter's captures a ban carries, by fail2ban's option name: what its ticket data gives <F-USER> and <F-ID>. */
function captured(ban: BanIssued): Record<string, string> {
  return { ...(ban.user === undefined ? {} : { user: ban.user }), ...(ban.fid === undefined ? {} : { fid: ban.fid }) }
}

/** A command run without a ban (actionstart, actioncheck, ...). */
export function staticCommand(action: ExecAction, op: StaticOperation, family: FamilyKey, host: HostNames): string {
  return render(action.templates[op][family], (tag) => hostValue(tag, host))
}

/** A command for one ban (actionban, actionunban, ...), rendered for the ban's family. */
export function banCommand(action: ExecAction, op: BanOperation, facts: BanFacts, host: HostNames): string {
  return render(action.templates[op][familyOf(facts.ip)], (tag) => hostValue(tag, host) ?? banValue(tag, facts))
}

type Filled = { readonly raw: string } | { readonly quoted: string }

function render(parts: readonly Segment[], value: (tag: string) => Filled | undefined): string {
  const variables = new Map<string, string>()
  let out = ''
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part
      continue
    }
    const filled = value(part.tag)
    if (filled === undefined) {
      out += `<${part.tag}>`
    } else if ('raw' in filled) {
      out += filled.raw
    } else {
      const name = `f2bV_${part.tag.replace(/\W/g, '_')}`
      if (part.context === 'single') {
        out += FAIL2BAN_ESCAPED.test(filled.quoted) ? `$${name}` : filled.quoted.replaceAll('\0', '')
        continue
      }
      variables.set(name, filled.quoted)
      out += reference(name, part.context)
    }
  }
  const assignments = [...variables].map(([name, text]) => `${name}=${singleQuoted(text)}\n`)
  return assignments.join('') + out
}

function hostValue(tag: string, host: HostNames): Filled | undefined {
  if (tag === 'fq-hostname') return { quoted: host.fq }
  if (tag === 'sh-hostname') return { quoted: host.short }
  return undefined
}

function banValue(tag: string, facts: BanFacts): Filled | undefined {
  switch (tag) {
    case 'ip': return { raw: formatAddress(facts.ip) }
    case 'ip-rev': return { raw: reversePointer(facts.ip) }
    case 'family': return { raw: familyOf(facts.ip) }
    case 'failures':
    case 'ipfailures':
    case 'ipjailfailures': return { raw: number(facts.failures) }
    case 'time': return { raw: number(facts.time_secs) }
    case 'bantime': return { raw: number(facts.bantime_secs) }
    case 'bancount': return { raw: number(facts.bancount) }
    case 'restored': return { raw: facts.restored ? '1' : '0' }
    case 'fid': return { quoted: facts.fid ?? formatAddress(facts.ip) }
    case 'matches':
    case 'ipmatches':
    case 'ipjailmatches': return { quoted: facts.matches.join('\n') }
    case 'ip-host': return { quoted: facts.ip_host ?? '' }
  }
  const capture = CAPTURE_TAG.exec(tag)
  if (!capture) return undefined
  // fail2ban fills a capture the ban does not carry with nothing.
  const name = capture[1]!.toLowerCase()
  return { quoted: facts.captures?.[CAPTURE_NAMES[name] ?? name] ?? '' }
}

function number(n: number): string {
  if (!Number.isFinite(n)) throw new ExecInputError(`${n} is not a finite number`)
  return String(n)
}

/** fail2ban's IPAddr.getPTR(''): the address's reverse-DNS labels, with the trailing dot. */
function reversePointer(address: Address): string {
  const b = address.bytes
  if (address.family === 4) return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.`
  const nibbles: string[] = []
  for (const byte of b) nibbles.push((byte >> 4).toString(16), (byte & 15).toString(16))
  return `${nibbles.reverse().join('.')}.`
}

/** One single-quoted word; a quote inside closes, adds a double-quoted quote, and reopens. NULs cannot pass a shell argument and are dropped. */
function singleQuoted(value: string): string {
  return `'${value.replaceAll('\0', '').replaceAll("'", `'"'"'`)}'`
}

/** fail2ban's CommandAction.ESCAPE_CRE: the characters it never writes into a command as they are. */
const FAIL2BAN_ESCAPED = /[\\#&;`|*?~<>^()[\]{}$'"\n\r]/

/** A reference that expands to the variable's value as one word where it stands. */
function reference(name: string, context: Exclude<Context, 'single'>): string {
  // A here-document's body expands without splitting words, and its quotes are text.
  if (context === 'double' || context === 'heredoc') return `\${${name}}`
  // execAction refuses these: nothing expands there.
  if (context === 'literal') throw new ExecInputError(`${name} cannot be referenced in a here-document that expands nothing`)
  return `"\${${name}}"`
}
