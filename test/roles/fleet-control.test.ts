import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { eventRow } from '../../schemas/clickhouse/rows.js'
import { eventTable } from '../../schemas/clickhouse/tables.js'
import type { Decision } from '../../schemas/events/decision.js'
import { Topics } from '../../schemas/topics.js'
import { KafkaLog } from '../../src/log/kafka/kafka-log.js'
import type { Log } from '../../src/log/log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { startApi, type ApiRole } from '../../src/roles/api.js'
import { startDetect, type Detect } from '../../src/roles/detect.js'
import { ClickHouseStore } from '../../src/store/clickhouse-store.js'
import { failure, fixtureStore } from '../api/history/history-fixture.js'
import { startMockCluster, type MockCluster } from '../kafka/mock-cluster.js'
import { startClickHouseHttpFront, type ClickHouseHttpFront } from '../store/clickhouse-http-front.js'
import { tempDir, writeTestConfig } from './run-test-kit.js'

const PARTITIONS = 4
const TEST = { timeout: 60_000 }

/** librdkafka's mock: no producer ids (so no idempotent producer), and short group timings so a test does not wait on them. */
function kafkaLog(cluster: MockCluster): KafkaLog {
  return new KafkaLog({
    brokers: cluster.brokers, clientLogLevel: 'nothing', idempotent: false,
    sessionTimeoutMs: 3000, heartbeatIntervalMs: 300, fetchMaxWaitMs: 20, requestTimeoutMs: 3000, handlerRetryBaseMs: 10,
    report: () => undefined,
  })
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function recordsIn(log: Log, topic: string): Promise<number> {
  return (await log.endOffsets(topic)).reduce((sum, end) => sum + end, 0)
}

async function decisionsIn(log: Log): Promise<Decision[]> {
  const out: Decision[] = []
  for await (const r of readToEnd(log, Topics.decisions.name)) out.push(JSON.parse(r.value.toString()) as Decision)
  return out
}

describe('the fleet API on librdkafka\'s mock cluster, with a detect worker deciding its commands', () => {
  let dir: string
  let cluster: MockCluster
  let history: Awaited<ReturnType<typeof fixtureStore>>
  let front: ClickHouseHttpFront
  let store: ClickHouseStore
  let logs: KafkaLog[]
  let detect: Detect
  let api: ApiRole
  let configDir: string

  const call = async (method: string, path: string, body?: unknown, base = api.url) => {
    const response = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  }

  before(async () => {
    dir = tempDir('banstream-fleet-api-')
    configDir = writeTestConfig(join(dir, 'config'), '/var/log/auth.log', [{ name: 'sshd', maxRetry: 3, findTimeSecs: 600, banTimeSecs: 3600 }])
    cluster = await startMockCluster(1, Object.fromEntries([Topics.lines.name, Topics.failures.name, Topics.decisions.name, Topics.commands.name].map((t) => [t, PARTITIONS])))
    history = await fixtureStore()
    // A failure of a minute ago: inside sshd's findtime, so status counts its address as currently failed.
    await history.store.insert('failures', [eventRow(failure(100, { jail: 'sshd', ip: '203.0.113.5', host: 'mx1', minute: 0, occurred_at: new Date(Date.now() - 60_000).toISOString() }), eventTable('failures').columns)])
    front = await startClickHouseHttpFront(history.store)
    store = new ClickHouseStore({ url: front.url })
    logs = [kafkaLog(cluster), kafkaLog(cluster)]
    detect = await startDetect({ log: logs[0]!, configDir, commandsPollMs: 50, note: () => undefined })
    await until(() => detect.decidePartitions().length === PARTITIONS, 'the detect worker to hold every partition')
    api = await startApi({ log: logs[1]!, configDir, store, listen: { host: '127.0.0.1', port: 0 }, note: () => undefined })
  })

  after(async () => {
    await api?.stop()
    await detect?.stop()
    for (const log of logs ?? []) await log.close()
    await store?.close()
    await front?.close()
    await history?.remove()
    await cluster?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  test('POST /v1/bans answers banned once the detect worker\'s ban is in the book, and GET /v1/bans lists it', TEST, async () => {
    const posted = await call('POST', '/v1/bans', { jail: 'sshd', ips: ['192.0.2.7'] })
    assert.equal(posted.status, 200, JSON.stringify(posted.body))
    assert.deepEqual(posted.body, { results: [{ ip: '192.0.2.7', result: 'banned' }] })
    const listed = await call('GET', '/v1/bans')
    const bans = listed.body['bans'] as { jail: string; ip: string; expires_at: string }[]
    assert.deepEqual(bans.filter((b) => b.ip === '192.0.2.7').map((b) => b.jail), ['sshd'])
    const manual = (await decisionsIn(logs[1]!)).find((d) => d.type === 'BanIssued' && d.ip === '192.0.2.7')
    assert.equal(manual?.type === 'BanIssued' && manual.reason, 'manual')
  })

  test('a ban of an address the jail ignores answers ignored and appends no command', TEST, async () => {
    const before = await recordsIn(logs[1]!, Topics.commands.name)
    const posted = await call('POST', '/v1/jails/sshd/bans', { ips: ['127.0.0.9'] })
    assert.deepEqual(posted.body, { results: [{ ip: '127.0.0.9', result: 'ignored' }] })
    assert.equal(await recordsIn(logs[1]!, Topics.commands.name), before)
  })

  test('a ban of an address the book holds answers already banned and appends no command', TEST, async () => {
    assert.deepEqual((await call('POST', '/v1/bans', { jail: 'sshd', ips: ['192.0.2.8'] })).body, { results: [{ ip: '192.0.2.8', result: 'banned' }] })
    const before = await recordsIn(logs[1]!, Topics.commands.name)
    const again = await call('POST', '/v1/bans', { jail: 'sshd', ips: ['192.0.2.8'] })
    assert.deepEqual(again.body, { results: [{ ip: '192.0.2.8', result: 'already banned' }] })
    assert.equal(await recordsIn(logs[1]!, Topics.commands.name), before)
  })

  test('DELETE /v1/bans/{ip} answers once the detect worker\'s lift is in the book', TEST, async () => {
    assert.deepEqual((await call('POST', '/v1/bans', { jail: 'sshd', ips: ['192.0.2.9'] })).body, { results: [{ ip: '192.0.2.9', result: 'banned' }] })
    const deleted = await call('DELETE', '/v1/bans/192.0.2.9')
    assert.deepEqual(deleted.body, { unbanned: 1 })
    const bans = (await call('GET', '/v1/bans')).body['bans'] as { ip: string }[]
    assert.ok(!bans.some((b) => b.ip === '192.0.2.9'))
    const lift = (await decisionsIn(logs[1]!)).find((d) => d.type === 'BanLifted' && d.ip === '192.0.2.9')
    assert.equal(lift?.type === 'BanLifted' && lift.reason, 'manual')
    assert.deepEqual((await call('DELETE', '/v1/bans/192.0.2.9')).body, { unbanned: 0 })
  })

  test('a history route answers from the ClickHouse server', TEST, async () => {
    const ip = await call('GET', '/v1/ips/192.0.2.1')
    assert.equal(ip.status, 200, JSON.stringify(ip.body))
    assert.equal((ip.body['failures'] as { total: number }).total, 7)
  })

  test('a jail\'s status counts its failures from the history and its bans from the book', TEST, async () => {
    const status = await call('GET', '/v1/jails/sshd')
    assert.equal(status.status, 200, JSON.stringify(status.body))
    const { filter, actions } = status.body as { filter: Record<string, unknown>; actions: { banned_ip_list: string[] } }
    // The fixture's nine sshd failures (of 2005) and the one of a minute ago; its success line is not counted.
    assert.deepEqual(filter, { currently_failed: 1, total_failed: 10, file_list: ['/var/log/auth.log'] })
    assert.ok(actions.banned_ip_list.includes('192.0.2.7'))
  })

  test('a ban no detect worker decides answers 504 once the wait is over', TEST, async () => {
    // This API knows a jail the detect worker does not run, so the worker refuses its commands.
    const wider = writeTestConfig(join(dir, 'wider'), '/var/log/auth.log', [
      { name: 'sshd', maxRetry: 3, findTimeSecs: 600, banTimeSecs: 3600 }, { name: 'postfix', maxRetry: 3, findTimeSecs: 600, banTimeSecs: 3600 },
    ])
    const log = kafkaLog(cluster)
    logs.push(log)
    const other = await startApi({ log, configDir: wider, store, listen: { host: '127.0.0.1', port: 0 }, answerWithinMs: 500, note: () => undefined })
    try {
      const posted = await call('POST', '/v1/bans', { jail: 'postfix', ips: ['192.0.2.10'] }, other.url)
      assert.equal(posted.status, 504)
      assert.equal(posted.body['code'], 'BANSTREAM_ERR_DECISION_TIMEOUT')
      assert.match(String(posted.body['message']), /192\.0\.2\.10 in jail 'postfix' within 0\.5 s/)
    } finally {
      await other.stop()
    }
  })
})
