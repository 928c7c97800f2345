// fail2ban's DateDetector.matchTime/getTime on byte lines: try the template that
// matched last (inside the same byte window when the characters around it agree),
// else search the templates in order, prefer a line-begin match over one deep in
// the message, and bubble frequent templates up the list.
import RE2 from 're2'
import { fieldsToEpoch, type DateClock } from './date-fields.js'
import { LINE_BEGIN, LINE_END, type DateTemplate } from './date-pattern.js'
import { templatesForDatepattern } from './date-templates.js'
import { parseTimeZone, processZone } from './time-zone.js'

export interface DateDetectorOptions {
  /** `datepattern` as in a filter file, after config substitution; undefined = fail2ban's defaults. */
  datepattern?: string
  /** `logtimezone`; undefined = dates without a zone are local time. */
  timezone?: string
  /** Epoch seconds; the reference for dates without year or day, and the time of `{NONE}` lines. */
  now: () => number
  /** What "local time" means (fail2ban: the process's zone); an IANA name or an offset. Default: the process's zone. */
  localZone?: string
}

export interface DateMatch {
  /** Byte span of the date text, the part fail2ban cuts out of the line before the failregexes run. */
  start: number
  end: number
  /**
   * Epoch seconds (fractions only from epoch formats). NaN when the text matched
   * a template but is no valid date (Feb 30, an unknown zone name): fail2ban logs
   * "failed to parse timeText" and keeps the previous line's time. An empty date
   * span (`{NONE}`, an optional date) gives now().
   */
  time: number
  /** Name of the template that matched, as `stats()` lists it. */
  template: string
}

/** A template's place in this detector's list (fail2ban's DateDetectorTemplate). */
interface Slot {
  readonly t: DateTemplate
  /** Its prefilter's index in the detector's RE2.Set; -1 for templates anchored at offset 0. */
  readonly setIndex: number
  hits: number
  lastUsed: number
  /** Offset of its last match: a template matching nearer the line start is preferred. */
  distance: number
  /** Lines its regex matched, whether or not it won (fail2ban's template.hits). */
  regexHits: number
}

const FAR = 0x7fffffff
/** A template unused this long may be overtaken regardless of weight. */
const UNUSED_SECS = 300

function slotWeight(s: Slot): number {
  return (s.hits * s.t.weight) / Math.max(1, s.distance)
}

function isAlnum(b: number): boolean {
  // Bytes of a non-ASCII character: most are letters, as Python's isalnum() sees them.
  return (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b >= 0x80
}

function byteAt(line: Uint8Array, i: number): number {
  return i >= 0 && i < line.length ? line[i]! : -1
}

type RE2Set = InstanceType<typeof RE2.Set>

/**
 * The Sets by their templates' sources, shared like the templates: each stream a filter reads has its
 * own detector, and a Set's compiled program and DFA cost milliseconds and hundreds of KiB apiece.
 */
const candidateSets = new Map<string, RE2Set>()

function candidateSet(sources: readonly string[]): RE2Set {
  const key = sources.join('\u0000')
  let set = candidateSets.get(key)
  if (set === undefined) {
    set = new RE2.Set(sources, 'u')
    candidateSets.set(key, set)
  }
  return set
}

export class DateDetector {
  private readonly slots: Slot[]
  private readonly clock: DateClock
  private readonly now: () => number
  /** One scan tells which templates can match a line at all, so the search skips the others. */
  private readonly candidates: RE2Set
  private readonly candidateMark: Uint32Array
  private candidateRound = 0
  private lastTemplIdx = FAR
  private firstUnused = 0
  // Where the last date was, and the bytes at its edges (fail2ban's __lastPos/__lastEndPos).
  private lastPos = 1
  private lastPrev = -1
  private lastFirst = -1
  private lastEndPos = FAR
  private lastLast = -1
  private lastNext = -1
  /** The last time computed from a template's captures, with what it was computed from (see Matcher.outcome). */
  private timed: { matcher: DateTemplate['matcher']; outcome: number; now: number; time: number } | undefined

  constructor(opts: DateDetectorOptions) {
    this.now = opts.now
    const local = opts.localZone === undefined ? processZone() : parseTimeZone(opts.localZone)
    this.clock = {
      localZone: local,
      logZone: opts.timezone === undefined ? null : parseTimeZone(opts.timezone),
    }
    const year = Math.max(new Date(opts.now() * 1000).getUTCFullYear(), new Date().getUTCFullYear())
    // Templates anchored at offset 0 cost a few byte compares each: only the others go in the set.
    const unanchored: string[] = []
    this.slots = templatesForDatepattern(opts.datepattern, year).map((t) => ({
      t, setIndex: t.re2 === null ? -1 : unanchored.push(t.re2Source) - 1, hits: 0, lastUsed: 0, distance: FAR, regexHits: 0,
    }))
    this.candidates = candidateSet(unanchored)
    this.candidateMark = new Uint32Array(unanchored.length)
  }

  /** Finds the date in a line as fail2ban does; null when none. */
  match(line: Buffer): DateMatch | null {
    const slots = this.slots
    let found: Slot | null = null
    let foundIdx = -1
    let reserved: Slot | null = null
    let reservedIdx = -1, reservedStart = FAR, reservedEnd = 0, reservedCaps: Int32Array | null = null
    let skip = FAR
    let i = this.lastTemplIdx
    if (i < slots.length) {
      const slot = slots[i]!
      const t = slot.t
      let ok: boolean
      if (t.flags & (LINE_BEGIN | LINE_END)) {
        ok = this.search(slot, line)
        skip = i
      } else {
        const d = this.lastPos, e = this.lastEndPos
        const prev = byteAt(line, d - 1), first = byteAt(line, d)
        const last = byteAt(line, e - 1), next = byteAt(line, e)
        if ((prev === this.lastPrev || (first === this.lastFirst && !isAlnum(this.lastFirst))) &&
          (next === this.lastNext || (last === this.lastLast && !isAlnum(this.lastLast)))) {
          ok = this.searchWindow(slot, line, d, Math.min(e, line.length))
        } else {
          ok = this.search(slot, line)
          skip = i
        }
      }
      if (ok) {
        const caps = t.matcher.caps
        if (slots.length === 1 || t.flags & (LINE_BEGIN | LINE_END) ||
          (caps[0] === this.lastPos && caps[1] === this.lastEndPos)) {
          found = slot
          foundIdx = i
        } else {
          reserved = slot
          reservedIdx = i
          reservedStart = caps[0]!
          reservedEnd = caps[1]!
          reservedCaps = caps.slice()
        }
      }
    }
    if (found === null) {
      const round = this.markCandidates(line)
      for (let k = 0; k < slots.length; k++) {
        if (k === skip) continue
        const slot = slots[k]!
        if (slot.setIndex >= 0 && this.candidateMark[slot.setIndex] !== round) continue
        if (!this.search(slot, line)) continue
        const t = slot.t
        const distance = t.matcher.caps[0]!
        if (k + 1 >= slots.length || t.flags & (LINE_BEGIN | LINE_END) ||
          (distance === 0 && slot.hits > 0 && slots[k + 1]!.regexHits === 0)) {
          found = slot
          foundIdx = k
          break
        }
        if (distance > slot.distance || distance > this.lastPos) {
          // Possibly a date-like text inside the message: keep the nearest, look further.
          if (distance < reservedStart) {
            reserved = slot
            reservedIdx = k
            reservedStart = distance
            reservedEnd = t.matcher.caps[1]!
            reservedCaps = t.matcher.caps.slice()
          }
          continue
        }
        found = slot
        foundIdx = k
        break
      }
    }
    let caps: Int32Array
    if (found !== null) {
      caps = found.t.matcher.caps
    } else if (reserved !== null) {
      found = reserved
      foundIdx = reservedIdx
      caps = reservedCaps!
      caps[0] = reservedStart
      caps[1] = reservedEnd
    } else {
      return null
    }
    return this.accept(found, foundIdx, line, caps, this.now())
  }

  /** Template names with their hit counts, in the detector's current order. */
  stats(): { template: string; hits: number }[] {
    return this.slots.map((s) => ({ template: s.t.name, hits: s.hits }))
  }

  private markCandidates(line: Buffer): number {
    const round = ++this.candidateRound
    if (this.candidateMark.length === 0) return round
    if (round === 0xffffffff) {
      this.candidateMark.fill(0)
      this.candidateRound = 1
      return this.markCandidates(line)
    }
    // test() stops at the first hit; most lines reaching here have no date at all.
    if (this.candidates.test(line)) for (const i of this.candidates.match(line)) this.candidateMark[i] = round
    return round
  }

  private search(slot: Slot, line: Buffer): boolean {
    const t = slot.t
    let ok: boolean
    if (t.re2 === null) {
      ok = t.matcher.search(line, 0, 0, line.length)
    } else {
      const c = t.re2().search(line)
      ok = c >= 0 && t.matcher.search(line, c, line.length, line.length)
    }
    if (ok) slot.regexHits++
    return ok
  }

  /** Python's pattern.search(line, from, to): the text ends at `to` for `$` and boundaries. */
  private searchWindow(slot: Slot, line: Buffer, from: number, to: number): boolean {
    const ok = from <= to && slot.t.matcher.search(line, from, to, to)
    if (ok) slot.regexHits++
    return ok
  }

  private accept(slot: Slot, idx: number, line: Buffer, caps: Int32Array, now: number): DateMatch {
    const distance = caps[0]!, endpos = caps[1]!
    slot.hits++
    slot.lastUsed = now
    slot.distance = distance
    if (this.firstUnused === idx) this.firstUnused++
    this.lastPos = distance
    this.lastPrev = byteAt(line, distance - 1)
    this.lastFirst = byteAt(line, distance)
    this.lastEndPos = endpos
    this.lastLast = byteAt(line, endpos - 1)
    this.lastNext = byteAt(line, endpos)
    if (idx !== 0 && idx !== this.lastTemplIdx) idx = this.reorder(idx)
    this.lastTemplIdx = idx
    const t = slot.t
    let start = caps[2]!, end = caps[3]!
    if (start < 0) start = end = distance
    return { start, end, time: start === end ? now : this.timeOfMatch(t, line, caps, now), template: t.name }
  }

  /** timeOf, computed once for the lines of one second: their captures and bytes are the same. */
  private timeOfMatch(t: DateTemplate, line: Buffer, caps: Int32Array, now: number): number {
    const last = this.timed
    const fresh = caps !== t.matcher.caps
    if (!fresh && last !== undefined && last.matcher === t.matcher && last.outcome === t.matcher.outcome && last.now === now) return last.time
    const time = this.timeOf(t, line, caps, now)
    this.timed = fresh ? undefined : { matcher: t.matcher, outcome: t.matcher.outcome, now, time }
    return time
  }

  private timeOf(t: DateTemplate, line: Buffer, caps: Int32Array, now: number): number {
    if (t.kind === 'pattern') return fieldsToEpoch(line, caps, t.fields, t.ampmGroup, now, this.clock)
    const st = caps[2 * t.valueGroup]!, en = caps[2 * t.valueGroup + 1]!
    if (st < 0) return NaN
    if (t.kind === 'tai64n') return parseInt(line.toString('latin1', st + 2, Math.min(en, st + 17)), 16)
    let v = 0, dot = -1
    for (let k = st; k < en; k++) {
      const b = line[k]!
      if (b === 0x2e) { dot = k; break }
      v = v * 10 + (b - 48)
    }
    const digits = (dot < 0 ? en : dot) - st
    if (dot >= 0) v = Number(line.toString('latin1', st, en))
    if (t.kind === 'long-epoch' && en - st >= 13) v /= en - st >= 16 && dot < 0 ? 1e6 : 1e3
    return digits > 0 ? v : NaN
  }

  /** fail2ban's _reorderTemplate: move a winning template up, fast while the top is unused. */
  private reorder(num: number): number {
    const slots = this.slots
    const slot = slots[num]!
    const untime = slot.lastUsed - UNUSED_SECS
    const weight = slotWeight(slot)
    let pos = this.firstUnused < num ? this.firstUnused : num >> 1
    const movable = () => weight > slotWeight(slots[pos]!) || untime > slots[pos]!.lastUsed
    if (!movable()) {
      if (pos === num - 1) return num
      pos = num - 1
      if (!movable()) return num
    }
    slots.splice(num, 1)
    slots.splice(pos, 0, slot)
    while (this.firstUnused < slots.length && slots[this.firstUnused]!.hits > 0) this.firstUnused++
    return pos
  }
}
