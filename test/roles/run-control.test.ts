import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Actuation } from '../../schemas/events/actuation.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { RunRole } from '../../src/roles/run.js'
import { packageRoot } from '../../src/package-root.js'

const JAIL_CONF = (dir: string) => `
[DEFAULT]
maxretry = 3
findtime = 10m
bantime = 1h
ignoreself = false
action = nftables[name=%(__name__)s, port="%(port)s"]

[sshd]
enabled = true
port = ssh
filter = sshd
logpath = ${dir}/auth.log

[dovecot]
enabled = true
port = imap,pop3
filter = dovecot
logpath = ${dir}/missing/mail.log
`

async function startRole(t: TestContext, jailLocal = '') {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-run-'))
  let role: RunRole | undefined
  t.after(async () => {
    await role?.stop()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  })
  const config = join(dir, 'config')
  await mkdir(config)
  await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
  await writeFile(join(config, 'jail.conf'), JAIL_CONF(dir))
  await writeFile(join(config, 'jail.local'), jailLocal.replaceAll('$DIR', dir))
  await writeFile(join(dir, 'auth.log'), '')
  const notes: string[] = []
  role = await RunRole.start({
    configDir: config, dataDir: join(dir, 'data'), control: { port: 0 }, fsync: 'never', dryRun: true,
    note: (level, message) => notes.push(`${level}: ${message}`),
  })
  return { dir, config, role, notes, url: role.controlUrl! }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
/** Now as syslog writes it, in local time: the filter reads it as local time too. */
const syslogTime = (d = new Date()) => `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2)} ${d.toTimeString().slice(0, 8)}`
const failedPassword = (ip: string, n: number) => `${syslogTime()} mail1 sshd[${1000 + n}]: Failed password for root from ${ip} port ${40000 + n} ssh2\n`

async function eventually<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function api(url: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, { method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}

test('a missing logpath is noted once and the other jails run', async (t) => {
  const { notes, role } = await startRole(t)
  assert.ok(notes.some((n) => n.includes('/missing/mail.log does not exist yet')), notes.join('\n'))
  assert.deepEqual(await role.control.jails(), ['sshd', 'dovecot'])
})

test('failures appended to a watched log ban the address at maxretry; status shows it as fail2ban-client does', async (t) => {
  const { dir, role } = await startRole(t)
  for (let n = 0; n < 3; n++) await appendFile(join(dir, 'auth.log'), failedPassword('192.0.2.7', n))
  const status = await eventually(async () => {
    const s = await role.control.status('sshd')
    return s && s.actions.currently_banned === 1 ? s : undefined
  }, 'the ban')
  assert.deepEqual(status, {
    name: 'sshd',
    filter: { currently_failed: 0, total_failed: 3, file_list: [join(dir, 'auth.log')] },
    actions: { currently_banned: 1, total_banned: 1, banned_ip_list: ['192.0.2.7'] },
  })
  const log = await eventually(async () => {
    const text = await readFile(join(dir, 'data', 'banstream.log'), 'utf8')
    return text.includes('dry-run') ? text : undefined
  }, 'the Ban line')
  assert.match(log, /\[sshd\] Found 192\.0\.2\.7 - /)
  assert.match(log, /NOTICE {2}\[sshd\] Ban 192\.0\.2\.7\n/)
  assert.match(log, /\[sshd\] dry-run: nftables\[name=sshd, port=ssh\] would ban 192\.0\.2\.7/)
  const actuations = await eventually(async () => {
    const found: Actuation[] = []
    for await (const r of readToEnd(role.log, 'actuations')) found.push(JSON.parse(r.value.toString()) as Actuation)
    return found.length > 0 ? found : undefined
  }, 'the actuation')
  assert.deepEqual(actuations.map((a) => [a.jail, a.ip, a.backend, a.outcome]), [['sshd', '192.0.2.7', 'dry-run', 'dry-run']])
})

test('an address banned that fails maxretry times again is logged "already banned" once, after its Ban line, as fail2ban logs it', async (t) => {
  const { dir } = await startRole(t)
  await appendFile(join(dir, 'auth.log'), [0, 1, 2, 3, 4, 5, 6].map((n) => failedPassword('192.0.2.8', n)).join(''))
  const log = await eventually(async () => {
    // The log is created by its first line.
    const text = await readFile(join(dir, 'data', 'banstream.log'), 'utf8').catch(() => '')
    return (text.match(/\] Found /g) ?? []).length === 7 && text.includes('already banned') ? text : undefined
  }, 'the Found, Ban and "already banned" lines')
  const actions = log.split('\n').filter((l) => l.includes('NOTICE')).map((l) => l.slice(l.indexOf('NOTICE') + 'NOTICE'.length).trim())
  assert.deepEqual(actions, ['[sshd] Ban 192.0.2.8', '[sshd] 192.0.2.8 already banned'])
})

test('manual ban and unban through the control API go through the decide stage and show at once', async (t) => {
  const { url, role } = await startRole(t)
  const banned = await api(url, 'POST', '/v1/jails/sshd/bans', { ips: ['198.51.100.9', '198.51.100.9'] })
  assert.equal(banned.status, 200)
  assert.deepEqual(banned.body, { results: [{ ip: '198.51.100.9', result: 'banned' }, { ip: '198.51.100.9', result: 'already banned' }] })
  assert.deepEqual((await role.control.banned()).map((b) => [b.jail, b.ip]), [['sshd', '198.51.100.9']])
  const lifted = await api(url, 'DELETE', '/v1/bans')
  assert.deepEqual(lifted.body, { unbanned: 1 })
  assert.deepEqual(await role.control.banned(), [])
})

test('banning and then unbanning many addresses answers once all are applied, more of them than the decide stage steps in one batch', async (t) => {
  const { url, role } = await startRole(t)
  const ips = Array.from({ length: 1200 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`)
  const banned = await api(url, 'POST', '/v1/jails/sshd/bans', { ips: [...ips, ips[0]] })
  assert.equal(banned.status, 200)
  const results = (banned.body as { results: { ip: string; result: string }[] }).results
  assert.deepEqual(results.map((r) => r.ip), [...ips, ips[0]])
  assert.deepEqual(new Set(results.slice(0, -1).map((r) => r.result)), new Set(['banned']))
  assert.equal(results.at(-1)!.result, 'already banned')
  assert.equal((await role.control.banned()).length, ips.length)
  assert.deepEqual((await api(url, 'DELETE', '/v1/bans')).body, { unbanned: ips.length })
  assert.deepEqual(await role.control.banned(), [])
})

test('the API\'s /metrics counts the actuations and what the match stage saw', async (t) => {
  const { url } = await startRole(t)
  assert.equal((await api(url, 'POST', '/v1/jails/sshd/bans', { ips: ['198.51.100.9'] })).status, 200)
  const counted = /^banstream_actuations_total\{backend="dry-run",outcome="dry-run"\} 1$/m
  const text = await eventually(async () => {
    const body = await (await fetch(`${url}/metrics`)).text()
    return counted.test(body) ? body : undefined
  }, 'the dry-run actuation counted in /metrics')
  assert.match(text, /^# TYPE banstream_actuator_set_full_total counter$/m)
  assert.match(text, /^banstream_match_streams_forgotten_total 0$/m)
  assert.match(text, /^banstream_api_requests_total\{/m)
})

test('reload reads the configuration again: a jail added to jail.conf runs', async (t) => {
  const { url, config, dir, role } = await startRole(t)
  await writeFile(join(config, 'jail.conf'), `${JAIL_CONF(dir)}\n[postfix]\nenabled = true\nport = smtp\nfilter = postfix\nlogpath = ${dir}/mail.log\n`)
  const reloaded = await api(url, 'POST', '/v1/reload')
  assert.equal(reloaded.status, 200)
  assert.deepEqual(await role.control.jails(), ['sshd', 'dovecot', 'postfix'])
})

test('a jail\'s ignorecommand is asked about each failing address, without a shell: exit 0 keeps it from being counted', async (t) => {
  const script = join(await mkdtemp(join(tmpdir(), 'banstream-ignorecmd-')), 'trusted.sh')
  t.after(() => rm(join(script, '..'), { recursive: true, force: true }))
  await writeFile(script, '#!/bin/sh\n[ "$1" = 192.0.2.50 ]\n', { mode: 0o755 })
  const { dir, role } = await startRole(t, `[sshd]\nignorecommand = ${script} <ip>\n`)
  for (let n = 0; n < 3; n++) await appendFile(join(dir, 'auth.log'), failedPassword('192.0.2.50', n) + failedPassword('192.0.2.51', n))
  const status = await eventually(async () => {
    const s = await role.control.status('sshd')
    return s && s.actions.currently_banned === 1 ? s : undefined
  }, 'the ban of the address the command does not vouch for')
  assert.deepEqual(status.actions.banned_ip_list, ['192.0.2.51'])
  const ignored = async () => (await readFile(join(dir, 'data', 'banstream.log'), 'utf8')).match(/\[sshd\] Ignore 192\.0\.2\.50 by command/g)?.length
  assert.equal(await eventually(async () => ((await ignored()) === 3 ? 3 : undefined), 'three Ignore lines'), 3)
})
