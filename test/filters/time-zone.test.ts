import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DatePatternError } from '../../src/filters/date-regex.js'
import { parseTimeZone, processZone, zoneTextOffsetMin } from '../../src/filters/time-zone.js'

test('zone texts give fail2ban\'s offsets in minutes', () => {
  const cases: [string, number][] = [
    ['Z', 0], ['UTC', 0], ['GMT', 0], ['+0200', 120], ['-0500', -300], ['+02:30', 150], ['-04', -240],
    ['CET', 60], ['CEST', 120], ['PDT', -420], ['NPT', 345], ['UTC+0300', 180], ['CET+0130', 150], ['CEST-01', 60], ['GMT+12', 720],
  ]
  for (const [text, min] of cases) assert.equal(zoneTextOffsetMin(text), min, text)
})

test('unknown abbreviations and malformed offsets have no offset', () => {
  for (const text of ['XYZ', 'utc', '+2', 'UTC+2', '+0200x']) assert.equal(zoneTextOffsetMin(text), undefined, text)
})

test('a fixed logtimezone has one offset all year', () => {
  const z = parseTimeZone('UTC+0200')
  assert.equal(z.fixedOffsetMin, 120)
  assert.equal(z.offsetAt(0), 7200)
  assert.equal(z.wallToEpoch(7200), 0)
})

test('an IANA zone takes its offset from the date', () => {
  const z = parseTimeZone('Europe/Zurich')
  assert.equal(z.fixedOffsetMin, null)
  assert.equal(z.offsetAt(Date.UTC(2005, 0, 15) / 1000), 3600)
  assert.equal(z.offsetAt(Date.UTC(2005, 6, 15) / 1000), 7200)
  assert.equal(parseTimeZone('Asia/Kathmandu').offsetAt(Date.UTC(2020, 0, 1) / 1000), 5 * 3600 + 45 * 60)
})

test('wall-clock times in the spring gap move forward, repeated autumn times take the first occurrence', () => {
  const z = parseTimeZone('America/New_York')
  const wall = (mo: number, d: number, h: number, mi: number) => Date.UTC(2021, mo - 1, d, h, mi) / 1000
  assert.equal(z.wallToEpoch(wall(3, 14, 2, 30)), Date.UTC(2021, 2, 14, 7, 30) / 1000)
  assert.equal(z.wallToEpoch(wall(11, 7, 1, 30)), Date.UTC(2021, 10, 7, 5, 30) / 1000)
  assert.equal(z.wallToEpoch(wall(11, 7, 2, 30)), Date.UTC(2021, 10, 7, 7, 30) / 1000)
})

test('the process zone follows TZ and gives the offsets and wall-clock times of the IANA zone it names', (t) => {
  const saved = process.env['TZ']
  t.after(() => { if (saved === undefined) delete process.env['TZ']; else process.env['TZ'] = saved })
  for (const name of ['America/New_York', 'Europe/Zurich', 'Australia/Lord_Howe']) {
    process.env['TZ'] = name
    const local = processZone()
    const iana = parseTimeZone(name)
    // Every 7 hours for two years: each DST change of these zones, both ways, lies between two of them.
    for (let at = Date.UTC(2020, 0, 1) / 1000; at < Date.UTC(2022, 0, 1) / 1000; at += 7 * 3600) {
      assert.equal(local.offsetAt(at), iana.offsetAt(at), `${name} offset at ${at}`)
      assert.equal(local.wallToEpoch(at), iana.wallToEpoch(at), `${name} wall clock ${at}`)
    }
  }
  const wall = Date.UTC(2021, 2, 14, 2, 30) / 1000
  process.env['TZ'] = 'America/New_York'
  assert.equal(processZone().wallToEpoch(wall), Date.UTC(2021, 2, 14, 7, 30) / 1000)
  process.env['TZ'] = 'UTC'
  assert.equal(processZone().wallToEpoch(wall), wall)
})

test('an unknown zone is refused', () => {
  assert.throws(() => parseTimeZone('Nowhere/Atlantis'), DatePatternError)
  assert.throws(() => parseTimeZone('XYZ'), DatePatternError)
})
