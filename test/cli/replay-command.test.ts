import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Topics } from '../../schemas/topics.js'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import { startMockCluster } from '../kafka/mock-cluster.js'
import { ATTACKERS, WEEK_START, weekConfig, weekRecords, writeWeek } from '../roles/replay-week.js'
import { cliCommand } from './cli-path.js'

function banstream(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cliCommand(), ...args], { maxBuffer: 64 << 20, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    })
  })
}

function fixture(t: { after: (fn: () => void) => void }, local?: string): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-replay-cli-'))
  const config = weekConfig(local)
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  t.after(() => rmSync(config, { recursive: true, force: true }))
  writeWeek(dir)
  return { dir, config }
}

test('replay --json of a glob (a .gz file) is byte-identical across runs, and piped it writes no progress', async (t) => {
  const { dir, config } = fixture(t)
  const args = ['replay', '--config', config, '--as', '/var/log/web.log', '--json', join(dir, '*.gz')]
  const first = await banstream(args)
  const second = await banstream(args)
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stderr, '')
  assert.equal(first.stdout, second.stdout)
  const result = JSON.parse(first.stdout)
  assert.equal(result.lines, 7 * 2880 + 5 + 84 * 4 + 12 + 5)
  assert.deepEqual(result.jails[0].bans.map((b: { ip: string }) => b.ip), [ATTACKERS.burst, ATTACKERS.twice, ATTACKERS.twice, ATTACKERS.token])
})

test('replay --diff of a candidate jail.local against exported decisions lists the lost and gained bans with sample lines', async (t) => {
  const { dir, config } = fixture(t)
  const production = await banstream(['replay', '--config', config, '--logpath-of', 'web', '--json', join(dir, 'web.log')])
  assert.equal(production.code, 0, production.stderr)
  const decisions = JSON.parse(production.stdout).jails[0].bans.map((b: Record<string, unknown>) => JSON.stringify({
    type: 'BanIssued', event_id: b['event_id'], cause_event_id: 'c', jail: 'web', ip: b['ip'], failures: b['failures'], ban_time_secs: b['ban_time_secs'],
    ban_count: 1, expires_at: b['expires_at'], occurred_at: b['time'], reason: 'threshold', matches: b['matches'],
  }))
  const exported = join(dir, 'decisions.ndjson')
  writeFileSync(exported, `${decisions.join('\n')}\n`)
  const candidate = weekConfig('[web]\nfailregex = ^\\s*Failed login from <HOST>$\nmaxretry = 4\n')
  t.after(() => rmSync(candidate, { recursive: true, force: true }))
  const diff = await banstream(['replay', '--config', candidate, '--logpath-of', 'web', '--diff', '--decisions', exported, join(dir, 'web.log')])
  assert.equal(diff.code, 0, diff.stderr)
  assert.match(diff.stdout, /\[web\] against actual decisions: 84 gained, 1 lost, 0 changed, 3 same/)
  assert.match(diff.stdout, new RegExp(`  - 2026-11-14T00:16:23.000Z  ${ATTACKERS.token.replaceAll('.', '\\.')}  3600 s, 5 failures\n        \\| 2026-11-14 00:15:03 Invalid token from`))
  assert.match(diff.stdout, new RegExp(`  \\+ 2026-11-09T00:03:07.000Z  ${ATTACKERS.slow.replaceAll('.', '\\.')}  3600 s, 4 failures\n        \\| 2026-11-09 00:00:07 Failed login from`))
})

test('replay --diff without --decisions is a usage error', async (t) => {
  const { dir, config } = fixture(t)
  const r = await banstream(['replay', '--config', config, '--diff', join(dir, 'web.log')])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--diff needs --decisions FILE/)
})

test('replay --kafka between --from and --to gives the bans of the file replay of the same lines', { timeout: 60_000 }, async (t) => {
  const { dir, config } = fixture(t)
  const cluster = await startMockCluster(1, { [Topics.lines.name]: 2 })
  t.after(() => cluster.stop())
  const log = new KafkaLog({ brokers: cluster.brokers, clientLogLevel: 'nothing', idempotent: false })
  await log.append(Topics.lines.name, weekRecords())
  await log.close()
  const range = ['--from', new Date(WEEK_START * 1000).toISOString(), '--to', new Date((WEEK_START + 7 * 86400) * 1000).toISOString()]
  const fromKafka = await banstream(['replay', '--config', config, '--json', ...range], { ...process.env, BANSTREAM_KAFKA_BROKERS: cluster.brokers.join(',') })
  const fromFile = await banstream(['replay', '--config', config, '--logpath-of', 'web', '--json', ...range, join(dir, 'web.log')])
  assert.equal(fromKafka.code, 0, fromKafka.stderr)
  assert.match(fromKafka.stderr, /1 records of the lines topic hold no line batch; skipped/)
  const bans = (stdout: string) => JSON.parse(stdout).jails[0].bans.map((b: { ip: string; time: string; matches: string[] }) => [b.ip, b.time, b.matches])
  assert.deepEqual(bans(fromKafka.stdout), bans(fromFile.stdout))
  assert.equal(bans(fromKafka.stdout).length, 4)
})

test('replay from Kafka without --from and --to is a usage error', async (t) => {
  const { config } = fixture(t)
  const r = await banstream(['replay', '--config', config, '--kafka', '127.0.0.1:9'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /replay from Kafka needs --from and --to/)
})

test('replay of the kept lines with log files too is a usage error', async (t) => {
  const { dir, config } = fixture(t)
  const r = await banstream(['replay', '--config', config, '--chdb', join(dir, 'clickhouse'), '--from', '2026-11-09T00:00:00Z', '--to', '2026-11-10T00:00:00Z', join(dir, 'web.log')])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--clickhouse and --chdb replay the lines the history kept: give no log files with them/)
})
