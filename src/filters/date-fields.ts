// From the captured strptime fields of a date to epoch seconds, as fail2ban's
// reGroupDictStrptime does it: missing year = this year (last year when that puts
// the date more than a day ahead), missing date = today (yesterday when ahead),
// 2-digit years in 20xx, fractions of a second dropped, zone from the line, else
// logtimezone, else local time. Numbers and names are read from the bytes.
import type { FieldSpec } from './date-pattern.js'
import { zoneTextOffsetMin, type TimeZone } from './time-zone.js'

export interface DateClock {
  /** The zone "local time" means: fail2ban uses the process's zone. */
  readonly localZone: TimeZone
  /** logtimezone: applies to dates that carry no zone of their own. */
  readonly logZone: TimeZone | null
}

const DAY = 86400

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** [year, month, day] of a day count since 1970-01-01. */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d]
}

let lastDay = NaN
let lastCivil: [number, number, number] = [1970, 1, 1]

/** civilFromDays for "today", which stays the same for many lines in a row. */
function civilOfDay(days: number): [number, number, number] {
  if (days !== lastDay) {
    lastCivil = civilFromDays(days)
    lastDay = days
  }
  return lastCivil
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function validDate(y: number, m: number, d: number): boolean {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
    d <= (m === 2 && isLeap(y) ? 29 : MONTH_DAYS[m - 1]!)
}

/** Monday = 0, as Python's weekday(). */
function weekdayOfDays(days: number): number {
  return (((days + 3) % 7) + 7) % 7
}

function readInt(s: Uint8Array, st: number, en: number): number {
  let v = 0
  for (let i = st; i < en; i++) {
    const b = s[i]!
    if (b >= 48 && b <= 57) v = v * 10 + (b - 48)
  }
  return v
}

/** Lower-cased first three letters packed in an int, to look month and day names up. */
function key3(s: Uint8Array, st: number): number {
  return ((s[st]! | 0x20) << 16) | ((s[st + 1]! | 0x20) << 8) | (s[st + 2]! | 0x20)
}

function keyOf(name: string): number {
  return (name.charCodeAt(0) << 16) | (name.charCodeAt(1) << 8) | name.charCodeAt(2)
}

const MONTH_BY_KEY = new Map(['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
  .map((m, i) => [keyOf(m), i + 1]))
const WEEKDAY_BY_KEY = new Map(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d, i) => [keyOf(d), i]))

/** _strptime._calc_julian_from_U_or_W. */
function julianFromWeek(year: number, week: number, weekday: number, weekStartsMonday: boolean): number {
  let first = weekdayOfDays(daysFromCivil(year, 1, 1))
  if (!weekStartsMonday) {
    first = (first + 1) % 7
    weekday = (weekday + 1) % 7
  }
  if (week === 0) return 1 + weekday - first
  return 1 + ((7 - first) % 7) + 7 * (week - 1) + weekday
}

function latin1(s: Uint8Array, st: number, en: number): string {
  return String.fromCharCode(...s.subarray(st, en))
}

/**
 * Epoch seconds of the date whose fields the template captured in `caps`; NaN
 * when the text is no valid date (Feb 30, second 60, an unknown zone name):
 * fail2ban then reports that it could not parse the date. `nowSecs` is fail2ban's
 * MyTime.time(), `ampmGroup` the group of %p (0 if none).
 */
export function fieldsToEpoch(
  s: Uint8Array, caps: Int32Array, fields: readonly FieldSpec[], ampmGroup: number, nowSecs: number, clock: DateClock,
): number {
  let year = -1, month = -1, day = -1, hour = 0, minute = 0, second = 0
  let weekday = -1, julian = -1, week = -1, weekStartsMonday = false
  let tzMin: number | null = null
  for (let k = 0; k < fields.length; k++) {
    const f = fields[k]!
    const st = caps[2 * f.group]!, en = caps[2 * f.group + 1]!
    if (st < 0) continue
    switch (f.key) {
      case 'y': year = readInt(s, st, en); if (year <= 2000) year += 2000; break
      case 'Y': year = readInt(s, st, en); break
      case 'm': month = readInt(s, st, en); break
      case 'b': case 'B': month = MONTH_BY_KEY.get(key3(s, st)) ?? -1; break
      case 'd': day = readInt(s, st, en); break
      case 'H': hour = readInt(s, st, en); break
      case 'I': {
        hour = readInt(s, st, en)
        const ap = ampmGroup > 0 ? caps[2 * ampmGroup]! : -1
        const pm = ap >= 0 && caps[2 * ampmGroup + 1]! - ap === 2 && (s[ap]! | 0x20) === 0x70
        if (!pm) { if (hour === 12) hour = 0 } else if (hour !== 12) hour += 12
        break
      }
      case 'M': minute = readInt(s, st, en); break
      case 'S': second = readInt(s, st, en); break
      case 'a': case 'A': weekday = WEEKDAY_BY_KEY.get(key3(s, st)) ?? -1; break
      case 'w': weekday = readInt(s, st, en) - 1; if (weekday < 0) weekday = 6; break
      case 'j': julian = readInt(s, st, en); break
      case 'U': case 'W': week = readInt(s, st, en); weekStartsMonday = f.key === 'W'; break
      case 'z': case 'Z': {
        const o = zoneTextOffsetMin(latin1(s, st, en))
        if (o === undefined) return NaN
        tzMin = o
        break
      }
    }
  }

  const nowNaive = nowSecs + clock.localZone.offsetAt(nowSecs)
  let assumeYear = false
  if (year < 0) {
    year = civilOfDay(Math.floor(nowNaive / DAY))[0]
    assumeYear = true
  }
  if (month < 0 || day < 0) {
    if (julian < 0 && week >= 0 && weekday >= 0) julian = julianFromWeek(year, week, weekday, weekStartsMonday)
    if (julian >= 0) {
      ;[year, month, day] = civilFromDays(daysFromCivil(year, 1, 1) + julian - 1)
    }
  }
  let assumeToday = false
  if (month < 0 && day < 0) {
    ;[, month, day] = civilOfDay(Math.floor(nowNaive / DAY))
    assumeToday = true
  }
  if (!validDate(year, month, day) || hour > 23 || minute > 59 || second > 59) return NaN

  const logZone = clock.logZone
  if (tzMin === null && logZone !== null && logZone.fixedOffsetMin !== null) tzMin = logZone.fixedOffsetMin
  const secs = hour * 3600 + minute * 60 + second
  let naive = naiveTime(year, month, day, secs, tzMin, logZone)
  if (assumeToday && naive > nowNaive) naive -= DAY
  if (assumeYear && naive > nowNaive + DAY) {
    if (!validDate(year - 1, month, day)) return NaN
    naive = naiveTime(year - 1, month, day, secs, tzMin, logZone)
  }
  return tzMin !== null || logZone !== null ? naive : clock.localZone.wallToEpoch(naive)
}

/**
 * fail2ban compares a UTC clock time with local "now" when the zone is known,
 * and a local clock time otherwise: this is that clock time, in seconds.
 */
function naiveTime(y: number, m: number, d: number, secs: number, tzMin: number | null, logZone: TimeZone | null): number {
  const wall = daysFromCivil(y, m, d) * DAY + secs
  if (tzMin !== null) return wall - tzMin * 60
  if (logZone !== null) return logZone.wallToEpoch(wall)
  return wall
}
