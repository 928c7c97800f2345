import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { packageRoot } from '../../src/package-root.js'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { migrateStore } from '../../src/store/migrate.js'
import { startMockCluster } from '../kafka/mock-cluster.js'
import { startClickHouseHttpFront } from '../store/clickhouse-http-front.js'
import { cliCommand, stopChild } from './cli-path.js'

test('banstream api listens, turns ready once it has caught up, and refuses a request without a token', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-api-cli-'))
  const config = join(dir, 'config')
  await mkdir(config)
  await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
  await writeFile(join(config, 'jail.conf'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\n`)
  const chdb = ChdbStore.open(join(dir, 'clickhouse'))
  // The tables exist, as the store role would have made them.
  await migrateStore(chdb)
  const front = await startClickHouseHttpFront(chdb)
  const cluster = await startMockCluster(1, { lines: 2, failures: 2, decisions: 2, commands: 2, actuations: 1 })
  const child = spawn(process.execPath, [...cliCommand(), 'api', '--kafka', cluster.brokers.join(','), '--clickhouse', front.url, '--config', config,
    '--listen', '127.0.0.1:0', '--control-token', 'secret-operate-token'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BANSTREAM_KAFKA_IDEMPOTENT: '0' } })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  t.after(async () => {
    await stopChild(child)
    await cluster.stop()
    await front.close()
    await chdb.close()
    await rm(dir, { recursive: true, force: true })
  })

  const deadline = Date.now() + 60_000
  let url: string | undefined
  while (url === undefined && Date.now() < deadline && child.exitCode === null) {
    url = /listens on (http:\/\/\S+)/.exec(stderr)?.[1]
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.ok(url, `the API to say where it listens:\n${stderr}`)
  let ready = 0
  while (ready !== 200 && Date.now() < deadline) {
    ready = (await fetch(`${url}/readyz`)).status
    if (ready !== 200) await new Promise((r) => setTimeout(r, 200))
  }
  assert.equal(ready, 200, stderr)

  const anonymous = await fetch(`${url}/v1/bans`)
  assert.equal(anonymous.status, 401)
  const authorized = await fetch(`${url}/v1/bans`, { headers: { authorization: 'Bearer secret-operate-token' } })
  assert.equal(authorized.status, 200)
  assert.deepEqual(await authorized.json(), { bans: [] })
})
