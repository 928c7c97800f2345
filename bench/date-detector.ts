/**
 * Date detection throughput (lines/s) on syslog lines, with fail2ban's default
 * templates and with `datepattern = {^LN-BEG}` (what common.conf filters use),
 * once on the mail-log sample (several lines per second share a timestamp) and
 * once with every line a new second, so no shortcut of a repeated date helps.
 *
 *   npx tsx bench/date-detector.ts [lines per case, default 1000000]
 */
import { DateDetector, type DateDetectorOptions } from '../src/filters/date-detector.js'
import { generateMailLog } from './mail-log.js'

const LINES = Number(process.argv[2] ?? 1_000_000)
const SAMPLE = 100_000

const mail = generateMailLog(SAMPLE).split('\n').filter((l) => l.length > 0).map((l) => Buffer.from(l))
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const distinct = mail.map((l, i) => {
  const d = new Date(Date.UTC(2026, 10, 1) + i * 1000)
  const stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`
  return Buffer.concat([Buffer.from(stamp), l.subarray(15)])
})

function run(name: string, lines: Buffer[], opts: Omit<DateDetectorOptions, 'now'>): void {
  const now = Date.UTC(2026, 11, 1) / 1000
  const det = new DateDetector({ ...opts, now: () => now, localZone: 'Europe/Zurich' })
  let dated = 0
  for (let i = 0; i < 20_000; i++) det.match(lines[i % lines.length]!)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < LINES; i++) if (det.match(lines[i % lines.length]!) !== null) dated++
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  console.log(`${name.padEnd(44)} ${(LINES / secs / 1e6).toFixed(2).padStart(6)} M lines/s  (${dated} of ${LINES} dated)`)
}

run('syslog, default templates', mail, {})
run('syslog, default templates, a new second per line', distinct, {})
run('syslog, datepattern {^LN-BEG}', mail, { datepattern: '{^LN-BEG}' })
run('syslog, datepattern {^LN-BEG}, new second per line', distinct, { datepattern: '{^LN-BEG}' })
