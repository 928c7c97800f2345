// Time zones for date parsing: fail2ban's fixed offsets and zone abbreviations
// (strptime.py validateTimeZone / zone2offset), extended with IANA names whose
// offsets come from Intl, so no tz database ships with us.
import { DatePatternError } from './date-regex.js'

export interface TimeZone {
  readonly name: string
  /** Set for zones without DST: fail2ban's "tzoffset", in minutes east of UTC. */
  readonly fixedOffsetMin: number | null
  /** Seconds east of UTC in force at the instant `epochSecs`. */
  offsetAt(epochSecs: number): number
  /**
   * The instant of a wall-clock time, given as seconds since 1970-01-01 00:00 on
   * this zone's clock. In a DST gap the offset before the change applies (02:30
   * becomes 03:30); a repeated hour resolves to its first occurrence.
   */
  wallToEpoch(wallSecs: number): number
}

// fail2ban's TZ_STR: hours east of UTC, then the abbreviations with that offset.
const TZ_ABBREVIATIONS = `
-12 Y
-11 X NUT SST
-10 W CKT HAST HST TAHT TKT
-9 V AKST GAMT GIT HADT HNY
-8 U AKDT CIST HAY HNP PST PT
-7 T HAP HNR MST PDT
-6 S CST EAST GALT HAR HNC MDT
-5 R CDT COT EASST ECT EST ET HAC HNE PET
-4 Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT
-3 P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT
-2 O BRST FNT PMDT UYST WGST
-1 N AZOT CVT EGT
0 Z EGST GMT UTC WET WT
1 A CET DFT WAT WEDT WEST
2 B CAT CEDT CEST EET SAST WAST
3 C EAT EEDT EEST IDT MSK
4 D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT
5 E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT
6 F ALMT BIOT BTT IOT KGT NOVT OMST YEKST
7 G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB
8 H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST
9 I AWDT IRKST JST KST PWT TLT WDT WIT YAKT
10 K AEST ChST PGT VLAT YAKST YAPT
11 L AEDT LHDT MAGT NCT PONT SBT VLAST VUT
12 M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT
13 FJST NZDT
11.5 NFT
10.5 ACDT LHST
9.5 ACST
6.5 CCT MMT
5.75 NPT
5.5 SLT
4.5 AFT IRDT
3.5 IRST
-2.5 HAT NDT
-3.5 HNT NST NT
-4.5 HLV VET
-9.5 MART MIT
`

const ABBREVIATION_OFFSET_MIN = new Map<string, number>()
for (const line of TZ_ABBREVIATIONS.trim().split('\n')) {
  const [hours, ...names] = line.split(' ')
  for (const n of names) ABBREVIATION_OFFSET_MIN.set(n, Math.trunc(Number(hours) * 60))
}

const FIXED_OFFSET_RE = /^([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$/

/**
 * fail2ban's zone2offset for a zone text such as `UTC`, `CEST`, `+0200`,
 * `-05:00`, `+02` or `UTC+0200`: minutes east of UTC, undefined when unknown.
 */
export function zoneTextOffsetMin(text: string): number | undefined {
  if (text === 'Z' || text === 'UTC' || text === 'GMT') return 0
  const m = FIXED_OFFSET_RE.exec(text)
  if (!m) return undefined
  const base = m[1] === undefined ? 0 : ABBREVIATION_OFFSET_MIN.get(m[1])
  if (base === undefined) return undefined
  const o = m[2]
  if (o === undefined) return base
  if (o.length <= 3) return base + Number(o) * 60
  const sign = o[0] === '-' ? -1 : 1
  const mm = o[3] === ':' ? o.slice(4, 6) : o.slice(3, 5)
  return base + sign * (Number(o.slice(1, 3)) * 60 + Number(mm))
}

export function fixedZone(offsetMin: number, name = 'UTC' + formatOffset(offsetMin)): TimeZone {
  const secs = offsetMin * 60
  return {
    name,
    fixedOffsetMin: offsetMin,
    offsetAt: () => secs,
    wallToEpoch: (w) => w - secs,
  }
}

function formatOffset(min: number): string {
  const a = Math.abs(min)
  return (min < 0 ? '-' : '+') + String(Math.trunc(a / 60)).padStart(2, '0') + String(a % 60).padStart(2, '0')
}

/** Offsets are cached per quarter hour: every zone changes offset on a quarter hour. */
const BUCKET_SECS = 900
const CACHE_LIMIT = 1 << 14

/** A zone with daylight saving time, asked for its offset at an instant by its subclass. */
abstract class ClockZone implements TimeZone {
  readonly fixedOffsetMin = null
  private readonly cache = new Map<number, number>()
  /** A day (of wall-clock time) without an offset change near it, and its offset. */
  private steadyDay = NaN
  private steadyOffset = 0

  constructor(readonly name: string) {}

  protected abstract computeOffset(epochSecs: number): number

  offsetAt(epochSecs: number): number {
    const bucket = Math.floor(epochSecs / BUCKET_SECS)
    let o = this.cache.get(bucket)
    if (o === undefined) {
      o = this.computeOffset(bucket * BUCKET_SECS)
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear()
      this.cache.set(bucket, o)
    }
    return o
  }

  wallToEpoch(w: number): number {
    const day = Math.floor(w / 86400)
    if (day === this.steadyDay) return w - this.steadyOffset
    const before = this.offsetAt(w - 86400)
    const after = this.offsetAt(w + 86400)
    if (before === after) {
      // No change of offset from a day before to a day after any time of this day.
      if (this.offsetAt(day * 86400 - 86400) === before && this.offsetAt(day * 86400 + 2 * 86400) === before) {
        this.steadyDay = day
        this.steadyOffset = before
      }
      return w - before
    }
    const tb = w - before, ta = w - after
    const validBefore = this.offsetAt(tb) === before
    const validAfter = this.offsetAt(ta) === after
    if (validBefore && validAfter) return Math.min(tb, ta)
    if (validAfter && !validBefore) return ta
    return tb
  }
}

class IanaZone extends ClockZone {
  private readonly fmt: Intl.DateTimeFormat

  constructor(name: string) {
    super(name)
    this.fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    })
  }

  protected computeOffset(epochSecs: number): number {
    let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0
    for (const p of this.fmt.formatToParts(new Date(epochSecs * 1000))) {
      const v = Number(p.value)
      switch (p.type) {
        case 'year': y = v; break
        case 'month': mo = v; break
        case 'day': d = v; break
        case 'hour': h = v; break
        case 'minute': mi = v; break
        case 'second': s = v; break
      }
    }
    return Date.UTC(y, mo - 1, d, h, mi, s) / 1000 - epochSecs
  }
}

/**
 * The zone of this process (TZ, else the system's), from Date's local time: the first
 * Intl.DateTimeFormat of a process loads ICU's locale data, ~15 ms that a `banstream regex` on a
 * log without a logtimezone would spend for nothing.
 */
class ProcessZone extends ClockZone {
  protected computeOffset(epochSecs: number): number {
    return -new Date(epochSecs * 1000).getTimezoneOffset() * 60
  }
}

/** By the value of TZ, which Node lets a process change while it runs. */
const processZones = new Map<string, ProcessZone>()

/** The zone of this process: what dates without a zone mean unless told otherwise (fail2ban's local time). */
export function processZone(): TimeZone {
  const tz = process.env['TZ'] ?? ''
  let zone = processZones.get(tz)
  if (zone === undefined) {
    zone = new ProcessZone(tz === '' ? 'local' : tz)
    processZones.set(tz, zone)
  }
  return zone
}

/**
 * IANA zones by name. A zone's offsets are the same for every reader, so one instance serves every
 * date detector: each stream of each filter has a detector, and an Intl.DateTimeFormat costs ~50 µs
 * and ~18 KiB of ICU memory.
 */
const ianaZones = new Map<string, IanaZone>()

/**
 * A `logtimezone` value: `UTC`, `GMT`, `Z`, an offset (`+0200`, `-05:00`, `+02`),
 * an abbreviation from fail2ban's table with an optional offset (`CET`,
 * `UTC+0200`; fixed, no DST switch, as in fail2ban), or an IANA name such as
 * `Europe/Zurich` (an extension: fail2ban refuses those).
 */
export function parseTimeZone(spec: string): TimeZone {
  const text = spec.trim()
  const fixed = zoneTextOffsetMin(text)
  if (fixed !== undefined) return fixedZone(fixed, text)
  try {
    let zone = ianaZones.get(text)
    if (zone === undefined) {
      zone = new IanaZone(text)
      ianaZones.set(text, zone)
    }
    return zone
  } catch {
    throw new DatePatternError(`Unknown or unsupported time zone: ${JSON.stringify(spec)}`)
  }
}
