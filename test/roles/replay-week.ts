import { gzipSync } from 'node:zlib'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Row } from '../../schemas/clickhouse/rows.js'
import { Topics } from '../../schemas/topics.js'
import { lineBatchRecord } from '../../src/log/line-batch-record.js'
import type { ProducedRecord } from '../../src/log/log.js'
import { resolveJailPolicies } from '../../src/ignore/resolve-policies.js'
import type { ReplayJailsOptions } from '../../src/roles/replay.js'
import { loadRunJails } from '../../src/roles/run-jails.js'
import { lineRows } from '../../src/store/line-rows.js'
import { tempTree } from '../config/temp-tree.js'

/** Monday 2026-11-09 00:00 UTC: the generated week's start. */
export const WEEK_START = Date.UTC(2026, 10, 9) / 1000
export const WEEK_END = WEEK_START + 7 * 86400

/**
 * The known attackers of the generated week. The jail bans at 5 failures within 10 minutes for an hour.
 *   203.0.113.10  5 password failures in a minute on day 1           → one ban
 *   203.0.113.20  4 failures every 2 hours all week                  → never banned
 *   198.51.100.7  6 password failures on day 4, 6 more 3 hours later → two bans (the 6th is "already banned")
 *   203.0.113.30  5 "invalid token" lines on day 5: failregex #1     → banned; a candidate filter without #1 loses this ban
 */
export const ATTACKERS = { burst: '203.0.113.10', slow: '203.0.113.20', twice: '198.51.100.7', token: '203.0.113.30' }

function stamp(secs: number): string {
  return new Date(secs * 1000).toISOString().replace('T', ' ').slice(0, 19)
}

/** A week of web log: a line of ordinary traffic every 30 s, the attackers' failures among them, in time order. */
export function weekLog(): string {
  const events: [number, string][] = []
  for (let t = WEEK_START; t < WEEK_START + 7 * 86400; t += 30) events.push([t, `GET /index.html 200 from 192.0.2.${(t / 30) % 250 + 1}`])
  const fail = (t: number, ip: string) => events.push([t, `Failed login from ${ip}`])
  for (let i = 0; i < 5; i++) fail(WEEK_START + 86400 + 3600 + i * 10 + 1, ATTACKERS.burst)
  for (let h = 0; h < 7 * 24; h += 2) for (let i = 0; i < 4; i++) fail(WEEK_START + h * 3600 + 7 + i * 60, ATTACKERS.slow)
  for (const start of [4 * 86400, 4 * 86400 + 3 * 3600]) for (let i = 0; i < 6; i++) fail(WEEK_START + start + 600 + i * 5 + 2, ATTACKERS.twice)
  for (let i = 0; i < 5; i++) events.push([WEEK_START + 5 * 86400 + 900 + i * 20 + 3, `Invalid token from ${ATTACKERS.token}`])
  events.sort((a, b) => a[0] - b[0])
  return events.map(([t, text]) => `${stamp(t)} ${text}\n`).join('')
}

// A forwarder sends what it read every moment: a record holds a few minutes of this log at most.
const LINES_PER_RECORD = 8

/**
 * The week as a forwarder appends it: batches of the web log's lines from one
 * host, each stamped (as the log's clock would) a second after its last line
 * was written; and one record that is not a line batch.
 */
export function weekRecords(): ProducedRecord[] {
  const lines = weekLog().trimEnd().split('\n')
  const records: ProducedRecord[] = []
  for (let i = 0; i < lines.length; i += LINES_PER_RECORD) {
    const batch = lines.slice(i, i + LINES_PER_RECORD)
    const written = Date.parse(`${batch.at(-1)!.slice(0, 19).replace(' ', 'T')}Z`)
    records.push({ ...lineBatchRecord({ stream: '/var/log/web.log', host: 'web1', lines: batch.map((l) => Buffer.from(l)), received_at: written }), timestamp: written + 1000 })
  }
  records.splice(3, 0, { key: Buffer.from('web1'), value: Buffer.from('not a batch'), timestamp: records[2]!.timestamp! })
  return records
}

export const WEB_FILTER = '[Definition]\nfailregex = ^\\s*Failed login from <HOST>$\n            ^\\s*Invalid token from <HOST>$\n'

/** A configuration tree with the web jail reading /var/log/web.log; `local` is a jail.local (a candidate change). */
export function weekConfig(local?: string): string {
  return tempTree({
    'jail.conf': '[DEFAULT]\nmaxretry = 5\nfindtime = 10m\nbantime = 1h\nlogtimezone = UTC\n\n[web]\nenabled = true\nfilter = web\nlogpath = /var/log/web.log\n',
    'filter.d/web.conf': WEB_FILTER,
    ...(local !== undefined ? { 'jail.local': local } : {}),
  })
}

/** Writes the week as web.log and web.log.gz under `dir`. */
export function writeWeek(dir: string): { plain: string; gz: string } {
  const text = weekLog()
  const plain = join(dir, 'web.log')
  const gz = join(dir, 'web.log.gz')
  writeFileSync(plain, text)
  writeFileSync(gz, gzipSync(text))
  return { plain, gz }
}

/** The enabled jails of a configuration tree and their policies, read as of the week's end, for replay(). */
export async function weekJails(configDir: string): Promise<ReplayJailsOptions> {
  const { jails } = loadRunJails(configDir, () => WEEK_END)
  const policies = await resolveJailPolicies(jails.map((j) => j.policy), { self: async () => [], warn: () => undefined })
  return { jails: jails.map((j) => j.match), policies }
}

/** The rows of the history's lines table for the week's records as the store sink keeps them (partition 0), one array per record. */
export function weekLineRows(): Row[][] {
  return weekRecords().flatMap((r, offset) => (r.value.toString() === 'not a batch' ? []
    : [lineRows({ topic: Topics.lines.name, partition: 0, offset, value: r.value, ...(r.headers ? { headers: r.headers as Record<string, string> } : {}) })]))
}
