import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { packageRoot } from '../../src/package-root.js'
import { RunRole } from '../../src/roles/run.js'

test('banstream run serves the actuation counters on its API\'s /metrics', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-run-metrics-'))
  let role: RunRole | undefined
  t.after(async () => {
    await role?.stop()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })
  const config = join(dir, 'config')
  await mkdir(config)
  await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
  await writeFile(join(config, 'jail.conf'), `[sshd]\nenabled = true\nfilter = sshd\nlogpath = ${dir}/auth.log\naction = nftables[port=ssh]\n`)
  await writeFile(join(dir, 'auth.log'), '')
  role = await RunRole.start({ configDir: config, dataDir: join(dir, 'data'), control: { port: 0 }, fsync: 'never', dryRun: true, note: () => {} })
  const banned = await fetch(`${role.controlUrl}/v1/jails/sshd/bans`, { method: 'POST', body: JSON.stringify({ ips: ['198.51.100.9'] }), headers: { 'content-type': 'application/json' } })
  assert.equal(banned.status, 200)
  const deadline = Date.now() + 10_000
  let text = ''
  while (!/^banstream_actuations_total\{backend="dry-run",outcome="dry-run"\} 1$/m.test(text)) {
    assert.ok(Date.now() < deadline, `no dry-run actuation counted in /metrics:\n${text}`)
    await new Promise((r) => setTimeout(r, 50))
    text = await (await fetch(`${role.controlUrl}/metrics`)).text()
  }
  assert.match(text, /^# TYPE banstream_actuator_set_full_total counter$/m)
  assert.match(text, /^banstream_api_requests_total\{/m)
})
