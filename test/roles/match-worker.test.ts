import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter, type UseDns } from '../../src/filters/compiled-filter.js'
import { HostResolver } from '../../src/ignore/host-resolver.js'
import type { EmbeddedLog } from '../../src/log/embedded-log.js'
import { lineBatchRecord } from '../../src/log/line-batch-record.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { MatchWorker } from '../../src/roles/match-worker.js'
import { closeAfter, openLog, tempDataDir } from '../log/log-test-kit.js'

const NOW = Date.parse('2026-11-22T12:00:00Z') / 1000
const sshd = (useDns: UseDns) => compileFilter(loadFilter(join(process.cwd(), 'config/filter.d'), 'sshd'), { useDns, now: () => NOW, timezone: 'UTC' })

async function setup(t: TestContext) {
  const { log, problems } = await openLog(t, { dataDir: await tempDataDir(t) })
  for (const topic of ['lines', 'failures']) await log.createTopic(topic, 1)
  return { log, problems }
}

async function failuresWhen(log: EmbeddedLog, count: number): Promise<FailureDetected[]> {
  const deadline = Date.now() + 5000
  for (;;) {
    const out: FailureDetected[] = []
    for await (const r of readToEnd(log, 'failures')) out.push(JSON.parse(r.value.toString()) as FailureDetected)
    if (out.length >= count || Date.now() > deadline) return out
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const lines = (text: string[]) => lineBatchRecord({
  stream: '/var/log/auth.log', host: 'mx1', lines: text.map((l) => Buffer.from(l)),
  position: { path: '/var/log/auth.log', dev: '1', ino: '2', offset: 100 }, received_at: NOW * 1000,
})

test('lines in, failures (and, for a jail that resets on success, successes, marked) out', async (t) => {
  const { log, problems } = await setup(t)
  const worker = MatchWorker.start({ log, jails: [{ name: 'sshd', filter: sshd('no'), logpath: ['/var/log/auth.log'], successes: true }], report: (p) => problems.push(p) })
  closeAfter(t, () => worker.stop())
  await log.append('lines', [lines([
    'Nov 22 11:59:58 mx1 sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2',
    'Nov 22 11:59:59 mx1 sshd[2]: Accepted password for alice from 198.51.100.1 port 22 ssh2',
  ])])
  const [failure, success, ...rest] = await failuresWhen(log, 2)
  assert.equal(rest.length, 0)
  assert.equal(failure!.ip, '192.0.2.7')
  assert.equal(failure!.occurred_at, '2026-11-22T11:59:58.000Z')
  // A login that worked travels too, marked: decide resets the count on it when resetonsuccess is set.
  assert.deepEqual([success!.ip, success!.success], ['198.51.100.1', true])
  assert.deepEqual(problems, [])
})

test('a jail that does not reset on success gets no success events: they would only be dropped downstream', async (t) => {
  const { log, problems } = await setup(t)
  const worker = MatchWorker.start({ log, jails: [{ name: 'sshd', filter: sshd('no'), logpath: ['/var/log/auth.log'] }], report: (p) => problems.push(p) })
  closeAfter(t, () => worker.stop())
  await log.append('lines', [lines([
    'Nov 22 11:59:58 mx1 sshd[2]: Accepted password for alice from 198.51.100.1 port 22 ssh2',
    'Nov 22 11:59:59 mx1 sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2',
  ])])
  const out = await failuresWhen(log, 1)
  assert.deepEqual(out.map((f) => [f.ip, f.success ?? false]), [['192.0.2.7', false]])
})

test('usedns = yes: a host name stands for every address it resolves to; with usedns = no it is dropped', async (t) => {
  const { log, problems } = await setup(t)
  const asked: string[] = []
  const resolver = new HostResolver({ lookup: async (name) => { asked.push(name); return [{ address: '203.0.113.5' }, { address: '2001:db8::5' }] } })
  const warnings: string[] = []
  const worker = MatchWorker.start({
    log, resolver, warn: (m) => warnings.push(m), report: (p) => problems.push(p),
    jails: [
      { name: 'sshd-dns', filter: sshd('warn'), logpath: ['/var/log/auth.log'] },
      { name: 'sshd-nodns', filter: sshd('no'), logpath: ['/var/log/auth.log'] },
    ],
  })
  closeAfter(t, () => worker.stop())
  await log.append('lines', [lines(['Nov 22 11:59:58 mx1 sshd[1]: Failed password for root from attacker.example.net port 22 ssh2'])])
  const out = await failuresWhen(log, 2)
  assert.deepEqual(out.map((f) => [f.jail, f.ip]), [['sshd-dns', '203.0.113.5'], ['sshd-dns', '2001:db8::5']])
  assert.notEqual(out[0]!.event_id, out[1]!.event_id)
  assert.deepEqual(asked, ['attacker.example.net'])
  assert.deepEqual(warnings, ['[sshd-dns] Determined IP using DNS Lookup: attacker.example.net = 203.0.113.5, 2001:db8::5'])
  assert.equal(worker.counters.jail('sshd-dns').host_names, 1)
})

test('a lines record that is not a line batch is reported and the next one is matched', async (t) => {
  const { log, problems } = await setup(t)
  const worker = MatchWorker.start({ log, jails: [{ name: 'sshd', filter: sshd('no'), logpath: ['/var/log/auth.log'] }], report: (p) => problems.push(p) })
  closeAfter(t, () => worker.stop())
  await log.append('lines', [{ key: null, value: Buffer.from('garbage') }, lines(['Nov 22 11:59:58 mx1 sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2'])])
  assert.equal((await failuresWhen(log, 1)).length, 1)
  assert.equal(problems.length, 1)
  assert.match(problems[0]!.reason, /missing stream/)
})

test('maxStreams bounds the (host, stream) filter states the worker keeps, counting those it drops', async (t) => {
  const { log, problems } = await setup(t)
  const worker = MatchWorker.start({ log, jails: [{ name: 'sshd', filter: sshd('no'), logpath: ['/var/log/auth.log'] }], maxStreams: 1, report: (p) => problems.push(p) })
  closeAfter(t, () => worker.stop())
  await log.append('lines', ['mx1', 'mx2', 'mx3'].map((host) => lineBatchRecord({
    stream: '/var/log/auth.log', host, received_at: NOW * 1000, position: { path: '/var/log/auth.log', dev: '1', ino: '2', offset: 100 },
    lines: [Buffer.from(`Nov 22 11:59:58 ${host} sshd[1]: Failed password for root from 192.0.2.7 port 22 ssh2`)],
  })))
  assert.equal((await failuresWhen(log, 3)).length, 3)
  assert.equal(worker.counters.streams_forgotten, 2)
  assert.deepEqual(problems, [])
})
