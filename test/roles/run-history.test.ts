import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { packageRoot } from '../../src/package-root.js'
import { RunRole, type RunOptions } from '../../src/roles/run.js'

// chDB keeps one data dir per process: this file is the only one running a role with embedded history.
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const syslogTime = (d = new Date()) => `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${d.toTimeString().slice(0, 8)}`

/** A run role with embedded history over an sshd jail reading `<dir>/auth.log`; stopped and removed after the test. */
async function startRole(t: TestContext, more: Partial<RunOptions> = {}): Promise<{ role: RunRole; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-run-history-'))
  const config = join(dir, 'config')
  await mkdir(config)
  await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
  await writeFile(join(config, 'jail.conf'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\nmaxretry = 3\nignoreself = false\naction = nftables[port=ssh]\n`)
  await writeFile(join(dir, 'auth.log'), '')
  const role = await RunRole.start({ configDir: config, dataDir: join(dir, 'data'), control: { port: 0 }, fsync: 'never', dryRun: true, history: 'embedded', note: () => {}, ...more })
  t.after(async () => {
    await role.stop()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })
  return { role, dir }
}

test('banstream run keeps every failure, decision and actuation in its embedded ClickHouse', async (t) => {
  const { role, dir } = await startRole(t)
  for (let n = 0; n < 3; n++) {
    await appendFile(join(dir, 'auth.log'), `${syslogTime()} mx1 sshd[${100 + n}]: Failed password for root from 192.0.2.9 port ${4000 + n} ssh2\n`)
  }
  const store = role.historyStore!
  const counts = async () => (await store.query<{ failures: number; bans: number; actuations: number }>(
    `SELECT (SELECT count() FROM failures FINAL WHERE ip = toIPv6({ip:String})) AS failures,
            (SELECT count() FROM decisions FINAL WHERE type = 'BanIssued') AS bans,
            (SELECT count() FROM actuations FINAL) AS actuations`, { ip: '192.0.2.9' }))[0]!
  const deadline = Date.now() + 15_000
  let seen = await counts()
  while ((seen.failures < 3 || seen.bans < 1 || seen.actuations < 1) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    seen = await counts()
  }
  assert.deepEqual(seen, { failures: 3, bans: 1, actuations: 1 })
  // The API the role serves answers from the same history.
  const response = await fetch(`${role.controlUrl}/v1/ips/192.0.2.9`)
  assert.equal(response.status, 200)
  const body = JSON.stringify(await response.json())
  assert.match(body, /"jail":"sshd"/)
  assert.match(body, /192\.0\.2\.9/)
})

test('banstream run keeps the raw log lines too when asked, with their TTL', async (t) => {
  const { role, dir } = await startRole(t, { historyLinesDays: 2 })
  const line = `${syslogTime()} mx1 sshd[7]: Failed password for root from 192.0.2.10 port 4000 ssh2`
  await appendFile(join(dir, 'auth.log'), `${line}\n`)
  const store = role.historyStore!
  const deadline = Date.now() + 15_000
  let lines = await store.query<{ line: string; stream: string }>('SELECT line, stream FROM lines FINAL')
  while (lines.length === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    lines = await store.query<{ line: string; stream: string }>('SELECT line, stream FROM lines FINAL')
  }
  assert.deepEqual(lines, [{ line, stream: join(dir, 'auth.log') }])
  const [table] = await store.query<{ engine_full: string }>("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'lines'")
  assert.match(table!.engine_full, /TTL toDateTime\(received_at\) \+ toIntervalDay\(2\)/)
})
