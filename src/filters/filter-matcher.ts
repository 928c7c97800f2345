import { isUtf8 } from 'node:buffer'
import { parseAddress, type Address } from './address.js'
import { startsWithWordChar, type CompiledFilter } from './compiled-filter.js'
import { DateDetector, type DateMatch } from './date-detector.js'
import { ExpiringCache } from './expiring-cache.js'
import type { FailRegex } from './failregex.js'
import { NONE } from './prefilter-set.js'

/** One failure a line (or a multi-line buffer) produced: fail2ban's `[failRegexIndex, fid, date, fail]`. */
export interface Failure {
  /** Index of the failregex that matched. */
  regex: number
  /**
   * The failure id as captured: the IP text, a host name, or an `<F-ID>`; null while a multi-line
   * failure waits for its address (fail2ban's "pending").
   */
  host: string | null
  /** The captured host parsed as an IP address (canonical form); absent for names and non-addresses. */
  address?: Address
  /** Event time, epoch seconds. */
  time: number
  /** Every captured group: user, alt_user1, fid, mlfid, custom F- groups... */
  fields: Record<string, string>
  /** Every user tried on one multi-line connection (`<F-MLFID>`), when more than none. */
  users?: string[]
  /** The log lines that make up this failure. */
  matches: string[]
  /** Set when the match is a helper (`<F-NOFAIL>`, `<F-MLFGAINED>`) that must not count as a failure. */
  nofail: boolean
}

export type LineOutcome = 'matched' | 'ignored' | 'missed'

export interface LineResult {
  outcome: LineOutcome
  failures: readonly Failure[]
  /** failregex indexes that matched this line (including helpers that produced no failure). */
  matchedRegexes: readonly number[]
  /** ignoreregex indexes that matched this line. */
  ignoredBy: readonly number[]
  /** Matches counted as helpers instead of extracted (MatchOptions.countHelpers); they are not in `failures`. */
  helpers: number
  date: DateMatch | null
}

export interface MatchOptions {
  /**
   * fail2ban's checkAllRegex: try every failregex instead of stopping at the first match (what
   * fail2ban-regex and the sample tests do). Off on the hot path.
   */
  checkAllRegex?: boolean
  /**
   * Process every line as fail2ban-regex does, also those no failregex can match: its date is found
   * (fail2ban-regex's date template hits count every dated line, and an undated line may take the
   * last date), and it is reported as 'ignored' when an ignoreregex matches it (fail2ban checks some
   * ignoreregexes up front). Costs the full processing of such lines; off on the hot path, where only
   * failures matter.
   */
  exactOutcomes?: boolean
  /**
   * Counts a match of a forgetting helper (FailRegex.forgets) in LineResult.helpers instead of
   * making its nofail failure, when nothing is cached for its connection: such a failure only ever
   * feeds multi-line state, and there is none to feed, while extracting its groups is most of its
   * line's cost. For the match stage, which drops helpers; single-line filters only.
   */
  countHelpers?: boolean
  /** With countHelpers, a forgetting success counts as a helper too: for jails that are not told of successes. */
  successesAreHelpers?: boolean
}

/** fail2ban's "tupleLine", as far as matching needs it: the whole line, and the line with its date cut out. */
interface TupleLine { raw: Buffer; text: Buffer }

interface MlfidEntry { fields: Record<string, string>; users: Set<string>; matches: string[]; nofailMatches: string[]; pending: boolean }

const NL = 0x0a
const CR = 0x0d
const LAST_DATE_HORIZON_SECS = 60
const MLFID_CACHE_COUNT = 100
const MLFID_CACHE_SECS = 5 * 60

/**
 * Runs one filter over the lines of one stream, reproducing fail2ban's Filter.processLine and
 * findFailure: date cut out, ignoreregex, prefregex and its F-CONTENT, maxlines buffering and
 * `<F-MLFID>` merging of multi-line failures. Stateful (line buffer, last date, mlfid cache), so one
 * instance per (filter, stream).
 */
export class FilterMatcher {
  private detector?: DateDetector
  private readonly checkAllRegex: boolean
  private readonly exactOutcomes: boolean
  private readonly countHelpers: boolean
  private readonly successesAreHelpers: boolean
  private lineBuffer: TupleLine[] = []
  private lastDate: number | undefined
  /** fail2ban keeps at most 100 connections, 5 minutes each: attackers choose these ids, so the cache is bounded. */
  private readonly mlfidCache: ExpiringCache<MlfidEntry>

  constructor(readonly filter: CompiledFilter, opts: MatchOptions = {}) {
    this.checkAllRegex = opts.checkAllRegex ?? false
    this.exactOutcomes = opts.exactOutcomes ?? false
    this.countHelpers = opts.countHelpers ?? false
    this.successesAreHelpers = opts.successesAreHelpers ?? false
    this.mlfidCache = new ExpiringCache(MLFID_CACHE_COUNT, MLFID_CACHE_SECS, filter.dateOptions.now)
  }

  /**
   * The filter's date detector, made on the first line that needs a date: behind a stream prefilter
   * most filters of a stream never see a line, and a detector costs tens of microseconds and
   * kilobytes, which a fleet's thousands of (host, stream) states would pay for every filter.
   */
  get dates(): DateDetector {
    return this.detector ??= new DateDetector(this.filter.dateOptions)
  }

  /**
   * The failregexes that may match this raw line, followed by the ignoreregexes that may (numbered from
   * failregex.length on: see CompiledFilter.prefilter); undefined when that cannot be told before the
   * date is cut out (multi-line filters, dates not at the line's start). No index below
   * failregex.length: no failregex can match.
   */
  candidates(line: Buffer): readonly number[] | undefined {
    const mode = this.filter.rawPrefilter
    if (mode === 'always' || (mode === 'word-start' && startsWithWordChar(line))) return this.admitted(line, this.filter.prefilter!.match(line))
    return undefined
  }

  /**
   * `candidates`, less the failregexes when the prefregex cannot match `text` (a text that holds the
   * one it sees). That spares a line its date, which exactOutcomes finds for every line anyway: there
   * the prefregex itself soon rejects the few lines the test would, and the test would cost a scan of
   * every line that passes it (sshd's: a quarter of a mail log).
   */
  private admitted(text: Buffer, candidates: readonly number[]): readonly number[] {
    const prefregex = this.filter.prefregexPrefilter
    if (prefregex === undefined || this.exactOutcomes || !this.anyFailregex(candidates) || prefregex.test(text)) return candidates
    // The ignoreregexes see the whole line, not the prefregex's content.
    const n = this.filter.failregex.length
    return candidates.filter((i) => i >= n)
  }

  private anyFailregex(candidates: readonly number[]): boolean {
    const n = this.filter.failregex.length
    for (const i of candidates) if (i < n) return true
    return false
  }

  /** Whether fail2ban-regex's view of a line no failregex can match depends on an ignoreregex (see ignoresUpFront). */
  private mayBeIgnoredUpFront(candidates: readonly number[]): boolean {
    if (!this.ignoresUpFront()) return false
    const n = this.filter.failregex.length
    for (const i of candidates) if (i >= n) return true
    return false
  }

  /**
   * Processes one line (without its terminator). `time`, when given, is the line's known time (a
   * journal entry's timestamp): no date is looked for in the line. `candidates`, when given, are the
   * failregexes and ignoreregexes a prefilter let through for this line (see candidates()); only those run.
   */
  processLine(line: Buffer, time?: number, candidates?: readonly number[]): LineResult {
    return this.processMatchable(matchableLine(line), time, candidates)
  }

  /** processLine for a line matchableLine() has already given: a stream's lines are checked for UTF-8 once, not once per filter. */
  processMatchable(line: Buffer, time?: number, candidates?: readonly number[]): LineResult {
    candidates = candidates === undefined ? this.candidates(line) : this.admitted(line, candidates)
    const hopeless = candidates !== undefined && !this.anyFailregex(candidates)
    if (hopeless && !this.mustClassify()) return missed(null)
    let date: number | undefined
    let dateMatch: DateMatch | null = null
    // Whether fail2ban cuts the date out of the text the regexes see.
    let cut = false
    if (time !== undefined) {
      date = time
      this.lastDate = time
    } else {
      dateMatch = this.dates.match(line)
      if (dateMatch === null) {
        date = this.recentLastDate()
      } else if (dateMatch.end > dateMatch.start && !Number.isNaN(dateMatch.time)) {
        date = dateMatch.time
        this.lastDate = date
        cut = true
      } else if (dateMatch.end > dateMatch.start) {
        // A date-like text that is no valid date: fail2ban falls back to the last recent date, and
        // then matches the whole line.
        date = this.recentLastDate()
        cut = date === undefined
      } else {
        // An optional date that matched empty: fail2ban takes the last known date if recent, else now.
        date = this.recentLastDate() ?? this.filter.dateOptions.now()
      }
    }
    // Only its date mattered (found above): no failregex and no ignoreregex can match it.
    if (hopeless && !this.mayBeIgnoredUpFront(candidates!)) return missed(dateMatch)
    const tuple: TupleLine = { raw: line, text: cut ? withoutDate(line, dateMatch!) : line }
    if (candidates === undefined && this.filter.prefilter) {
      candidates = this.admitted(tuple.text, this.filter.prefilter.match(tuple.text))
      if (!this.anyFailregex(candidates) && !(this.mustClassify() && this.mayBeIgnoredUpFront(candidates))) return missed(dateMatch)
    }
    return this.findFailures(tuple, date, dateMatch, candidates)
  }

  /** A line no failregex can match still needs processing when fail2ban-regex's view of it is wanted. */
  private mustClassify(): boolean {
    return this.exactOutcomes
  }

  /** fail2ban checks ignoreregex on the whole line first only when there are clearly fewer of them than failregexes. */
  private ignoresUpFront(): boolean {
    const f = this.filter
    return f.ignoreregex.length > 0 && f.ignoreregex.length < f.failregex.length - 2
  }

  private recentLastDate(): number | undefined {
    const now = this.filter.dateOptions.now()
    return this.lastDate !== undefined && this.lastDate > now - LAST_DATE_HORIZON_SECS ? this.lastDate : undefined
  }

  private findFailures(tuple: TupleLine, date: number | undefined, dateMatch: DateMatch | null, candidates: readonly number[] | undefined): LineResult {
    const f = this.filter
    const result: LineResult = { outcome: 'missed', failures: NONE, matchedRegexes: NONE, ignoredBy: NONE, helpers: 0, date: dateMatch }
    const multiline = f.maxlines > 1
    const orgBuffer = this.lineBuffer = multiline ? [...this.lineBuffer, tuple].slice(-f.maxlines) : [tuple]
    let buf: Buffer | undefined = linesBuffer(orgBuffer, multiline)

    // fail2ban checks the whole buffer up front only when there are clearly fewer ignore- than failregexes.
    if (this.ignoresUpFront()) {
      if (this.ignoreLine(buf, result, candidates)) {
        result.outcome = 'ignored'
        return result
      }
    }

    // The prefilter ruled every failregex out: only the up-front ignore check above had anything to say.
    if (candidates !== undefined && !this.anyFailregex(candidates)) return result

    let preGroups: Record<string, string> | undefined
    if (f.prefregex) {
      const cut = f.prefregexCut?.cut(buf)
      if (cut === null) return result
      let content: Buffer | undefined
      if (cut !== undefined) {
        if (cut.mlfid !== undefined) preGroups = { ...cut.fields, mlfid: cut.mlfid }
        else if (cut.fields !== undefined) preGroups = cut.fields
        content = cut.content
      } else {
        // The DFA test rules a line out far cheaper than the submatch search exec() starts with.
        const m = f.prefregex.test(buf) ? f.prefregex.exec(buf) : null
        if (!m) return result
        const text = m.fields['content']
        preGroups = text === undefined ? m.fields : omit(m.fields, 'content')
        if (text) content = Buffer.from(text)
      }
      if (content) {
        this.lineBuffer = [{ raw: tuple.raw, text: content }]
        buf = linesBuffer(this.lineBuffer, multiline)
      }
    }

    const order = candidates ?? f.failregex.keys()
    for (const i of order) {
      const failRegex = f.failregex[i]
      if (failRegex === undefined) continue
      buf ??= linesBuffer(this.lineBuffer, multiline)
      // A DFA test is an order of magnitude cheaper than extracting groups; most candidates fail it.
      if (!failRegex.test(buf)) continue
      const counted = this.countHelpers && !multiline && !this.checkAllRegex && this.helperOnly(failRegex.forgets) &&
        preGroups?.['mlfid'] !== undefined && this.mlfidCache.get(preGroups['mlfid']) === undefined
      const m = counted ? undefined : failRegex.exec(buf)
      if (m === null) continue
      const span = m ? matchedSpan(buf, m.start, m.end, m.fields, orgBuffer, multiline) : { matched: orgBuffer, unmatched: [] }
      result.matchedRegexes = appended(result.matchedRegexes, i)
      result.outcome = 'matched'
      const ignoreBuf = multiline ? linesBuffer(span.matched, multiline) : buf
      if (f.ignoreregex.length > 0 && this.ignoreLine(ignoreBuf, result, candidates)) {
        if (!this.checkAllRegex || multiline) this.lineBuffer = span.unmatched
        result.outcome = result.failures.length > 0 ? 'matched' : 'ignored'
        if (!this.checkAllRegex) break
        continue
      }
      if (date === undefined) continue
      if (!this.checkAllRegex || multiline) {
        this.lineBuffer = span.unmatched
        buf = undefined
      }
      if (m === undefined) result.helpers++
      else {
        const failure = this.toFailure(i, m.fields, preGroups, span.matched, date)
        if (failure) result.failures = appended(result.failures, failure)
      }
      if (!this.checkAllRegex) break
    }
    return result
  }

  private helperOnly(forgets: FailRegex['forgets']): boolean {
    return forgets === 'helper' || (forgets === 'success' && this.successesAreHelpers)
  }

  /** Runs the ignoreregexes (those among `candidates`, when given); records which matched. */
  private ignoreLine(buf: Buffer, result: { ignoredBy: readonly number[] }, candidates: readonly number[] | undefined): boolean {
    let found = false
    const n = this.filter.failregex.length
    for (let j = 0; j < this.filter.ignoreregex.length; j++) {
      if (candidates !== undefined && !candidates.includes(n + j)) continue
      if (this.filter.ignoreregex[j]!.test(buf)) {
        if (!result.ignoredBy.includes(j)) result.ignoredBy = appended(result.ignoredBy, j)
        found = true
        if (!this.checkAllRegex) break
      }
    }
    return found
  }

  private toFailure(
    regex: number, groups: Record<string, string>, preGroups: Record<string, string> | undefined,
    matchedLines: TupleLine[], date: number,
  ): Failure | undefined {
    // `groups` is the match's own object: no copy needed without the prefregex's groups to merge.
    let fields: Record<string, string> = preGroups ? Object.assign({}, preGroups, groups) : groups
    const lines = matchedLines.map((t) => t.raw.toString('utf8'))
    let matches: string[]
    let users: string[] | undefined
    let nofail = fields['nofail'] !== undefined
    const mlfid = fields['mlfid']
    if (mlfid !== undefined) {
      const merged = this.mergeFailure(mlfid, fields, lines)
      fields = merged.fields
      matches = merged.matches
      users = merged.users
      nofail = merged.nofail
    } else {
      matches = lines
    }
    const fid = fields['fid']
    const ipText = fields['ip4'] ?? fields['ip6']
    let host: string | null = ipText ?? fields['dns'] ?? fid ?? null
    // A regex without any host or id group cannot name a failure (fail2ban logs it as a regex error).
    if (host === null && mlfid === undefined) return undefined
    if (host === null) {
      // A multi-line helper still waiting for the line that names the address: remember it is pending.
      const entry = this.mlfidCache.get(mlfid!)
      if (entry) entry.pending = true
    }
    let address: Address | undefined
    if (ipText !== undefined) {
      const cidr = fields['cidr']
      address = parseAddress(cidr !== undefined ? `${ipText}/${cidr}` : ipText) ?? undefined
      if (address) host = address.prefix !== undefined ? `${address.ip}/${address.prefix}` : address.ip
      // A failure id other than the address makes a "complex id" failure: fail2ban bans by the id then.
      // The id is never taken for the address, though it may read as one ("0.0.0.0/1"): a filter
      // captures it from text the client may write. The address beside it is the one banned.
      if (fid !== undefined && fid !== ipText) {
        host = fid
        address = undefined
      }
    }
    const failure: Failure = { regex, host, time: date, fields, matches, nofail }
    if (address) failure.address = address
    if (users && users.length > 0) failure.users = users
    return failure
  }

  /** fail2ban's _mergeFailure: folds the lines of one connection (`<F-MLFID>`) into one failure. */
  private mergeFailure(mlfid: string, fail: Record<string, string>, lines: string[]):
    { fields: Record<string, string>; matches: string[]; users: string[]; nofail: boolean } {
    const GAINED = 8, NOFAIL = 1, FORGET = 2, HAD_NOFAIL = 4
    let flags = 0
    if (fail['mlfgained'] !== undefined) {
      flags |= GAINED | NOFAIL
      if (fail['nofail'] === undefined) fail['nofail'] = fail['mlfgained']
    } else if (fail['nofail'] !== undefined) flags |= NOFAIL
    const forget = fail['mlfforget'] !== undefined
    if (forget) {
      flags |= FORGET
      fail = omit(fail, 'mlfforget')
    }

    let entry = this.mlfidCache.get(mlfid)
    const user = fail['user']
    if (entry) {
      if (user) entry.users.add(user)
      if (entry.fields['nofail'] !== undefined || entry.fields['mlfgained'] !== undefined) {
        entry.fields = omit(entry.fields, 'nofail', 'mlfgained')
        flags |= HAD_NOFAIL
      }
      if (flags & GAINED) entry.pending = false
      if ((flags & HAD_NOFAIL) === 0 && !entry.pending) entry.matches = []
      if (replacesAddress(entry.fields, fail)) entry.fields = omit(entry.fields, ...HOST_FIELDS)
      Object.assign(entry.fields, fail)
      if (flags & FORGET) this.mlfidCache.delete(mlfid)
    } else {
      entry = { fields: fail, users: new Set(user ? [user] : []), matches: [], nofailMatches: [], pending: false }
      if (!(flags & FORGET)) this.mlfidCache.set(mlfid, entry)
    }
    const wasPending = entry.pending
    entry.pending = false
    if (wasPending || entry.users.size > 1) {
      // Several users tried on one connection (or an earlier failure waited): even a success line is
      // then part of an attack, not a helper or a gain.
      entry.fields = omit(entry.fields, 'nofail', 'mlfgained')
      flags &= ~(NOFAIL | GAINED)
    }
    if (!(flags & NOFAIL)) {
      const m = [...entry.nofailMatches, ...entry.matches]
      entry.nofailMatches = []
      if (!(flags & GAINED)) m.push(...lines)
      entry.matches = m
    } else if (!(flags & FORGET)) {
      entry.nofailMatches = [...entry.nofailMatches, ...lines]
    }
    return {
      fields: { ...entry.fields }, matches: [...entry.matches], users: [...entry.users],
      nofail: entry.fields['nofail'] !== undefined,
    }
  }
}

/**
 * The bytes a filter sees: without the trailing CR and LF fail2ban strips first (CRLF logs, journal
 * messages), and with invalid UTF-8 replaced by U+FFFD as fail2ban's decoding does — RE2 matches no
 * invalid byte with `.` or a negated class, so an attacker could otherwise hide a failure behind one.
 * Idempotent, so StreamMatcher and FilterMatcher may both apply it.
 */
export function matchableLine(line: Buffer): Buffer {
  let end = line.length
  while (end > 0 && (line[end - 1] === NL || line[end - 1] === CR)) end--
  const trimmed = end === line.length ? line : line.subarray(0, end)
  return isUtf8(trimmed) ? trimmed : Buffer.from(trimmed.toString('utf8'))
}

/** The groups that name a failure's address (the host is ip4, else ip6, else dns). */
const HOST_FIELDS = ['ip4', 'ip6', 'dns', 'cidr']

/**
 * Whether a line's own address must replace the one its connection has cached: a merge keeps the
 * cached groups the line lacks, and an IPv4 address cached for a connection id (sshd's pid, reused by
 * a later client) would then outrank this line's IPv6 address or host name, as it does in fail2ban.
 */
function replacesAddress(cached: Record<string, string>, fail: Record<string, string>): boolean {
  if (!HOST_FIELDS.some((k) => fail[k] !== undefined)) return false
  return HOST_FIELDS.some((k) => cached[k] !== undefined && fail[k] === undefined)
}

/** The line with its date's text cut out, as fail2ban's tupleLine holds it. */
function withoutDate(line: Buffer, { start, end }: DateMatch): Buffer {
  return start === 0 ? line.subarray(end) : Buffer.concat([line.subarray(0, start), line.subarray(end)])
}

/**
 * A copy of `fields` without `keys`. Never `delete`: it turns the object into a dictionary, and
 * copying one costs ten times more (~2 µs), on every failure.
 */
function omit(fields: Record<string, string>, ...keys: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key in fields) if (!keys.includes(key)) out[key] = fields[key]!
  return out
}

/** Most lines of a log miss: their results share the one empty list. */
function missed(date: DateMatch | null): LineResult {
  return { outcome: 'missed', failures: NONE, matchedRegexes: NONE, ignoredBy: NONE, helpers: 0, date }
}

/**
 * `list` with `item` after it: a new list of one when `list` is the shared empty one, else `list`
 * itself. A result's lists mostly stay empty or hold one item, and an empty array literal costs a
 * backing store of 17 slots on its first push (~150 bytes), three times a line.
 */
function appended<T>(list: readonly T[], item: T): readonly T[] {
  if (list.length === 0) return [item]
  const own = list as T[]
  own.push(item)
  return own
}

/** fail2ban's _tupleLinesBuf: the date-less texts joined by newlines (with a final one when multi-line). */
function linesBuffer(lines: TupleLine[], multiline: boolean): Buffer {
  if (!multiline) return lines[0]?.text ?? EMPTY
  const parts: Buffer[] = []
  for (const l of lines) parts.push(l.text, NEWLINE)
  return Buffer.concat(parts)
}
const NEWLINE = Buffer.from('\n')
const EMPTY = Buffer.alloc(0)

/**
 * Which buffered lines a match covers (fail2ban's getMatchedTupleLines / getUnmatchedTupleLines): the
 * lines the match touches, less those a `<SKIPLINES>` group swallowed.
 */
function matchedSpan(buf: Buffer, start: number, end: number, fields: Record<string, string>, lines: TupleLine[], multiline: boolean):
  { matched: TupleLine[]; unmatched: TupleLine[] } {
  if (!multiline || lines.length <= 1) return { matched: lines, unmatched: [] }
  const lineStart = buf.lastIndexOf(NL, start) + 1
  const endNl = buf.indexOf(NL, Math.max(0, end - 1))
  const lineEnd = endNl < 0 ? buf.length : endNl + 1
  const first = countNewlines(buf, lineStart)
  const last = countNewlines(buf, lineEnd)
  const matched = lines.slice(first, last)
  const unmatched = lines.slice(0, first)
  const skipped = Object.keys(fields).filter((k) => /^skiplines\d+$/.test(k))
    .flatMap((k) => fields[k]!.split('\n')).filter((l) => l !== '')
  let n = 0
  for (const skippedLine of skipped) {
    const m = matched.slice(n).findIndex((t) => t.text.toString('utf8') === skippedLine)
    if (m < 0) continue
    unmatched.push(...matched.splice(n + m, 1))
    n += m
  }
  unmatched.push(...lines.slice(last))
  return { matched, unmatched }
}

function countNewlines(buf: Buffer, to: number): number {
  let n = 0
  for (let i = buf.indexOf(NL); i >= 0 && i < to; i = buf.indexOf(NL, i + 1)) n++
  return n
}
