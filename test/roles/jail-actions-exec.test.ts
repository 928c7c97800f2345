import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { packageRoot } from '../../src/package-root.js'
import { prepareJailActions, type JailActions } from '../../src/roles/jail-actions.js'
import { loadRunJails } from '../../src/roles/run-jails.js'
import { ban } from '../sinks/actuators/decision-fixtures.js'

const FAIL2BAN_ACTIONS = '/work/shared/fail2ban/action.d'

// The exec kind is asked last: it takes any action.d file no other kind claims.
const JAIL_CONF = (dir: string) => `[DEFAULT]
enabled = true
filter = sshd
logpath = ${dir}/auth.log

[sshd]
action = record[log="${dir}/record.log"]
         nftables[port=22, protocol=tcp]
         smtp.py[dest=root]
         no-such-action
         needs-port

[postfix]
action = record[log="${dir}/record.log", name=mail]
`

const RECORD = `[Definition]
actionstart = echo "start <name>" >> <log>
actionban = echo "ban <name> <ip>" >> <log>
actionunban = echo "unban <name> <ip>" >> <log>
`

describe('jail actions with the exec backend', () => {
  let dir: string
  let actions: JailActions
  const notes: string[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'banstream-exec-actions-'))
    const config = join(dir, 'config')
    await mkdir(join(config, 'action.d'), { recursive: true })
    await symlink(resolve(packageRoot(), 'config', 'filter.d'), join(config, 'filter.d'))
    for (const file of ['nftables.conf', 'smtp.py']) await symlink(join(FAIL2BAN_ACTIONS, file), join(config, 'action.d', file))
    await writeFile(join(config, 'action.d', 'record.conf'), RECORD)
    await writeFile(join(config, 'action.d', 'needs-port.conf'), '[Definition]\nactionban = block <ip> port <port>\n')
    await writeFile(join(config, 'jail.conf'), JAIL_CONF(dir))
    await writeFile(join(dir, 'auth.log'), '')
    const { jails } = loadRunJails(config, () => Date.now() / 1000)
    // nft stands in as `false`: these tests are about who claims what, not about nftables.
    actions = await prepareJailActions(jails, { note: (level, message) => notes.push(`${level}: ${message}`), nftables: { nft: 'false', conntrack: null } })
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('an action.d file no other kind claims runs on the exec backend, one per file; nftables stays native', () => {
    assert.deepEqual(actions.of('sshd').map((a) => a.backend), ['exec:record', 'nftables', 'dry-run', 'dry-run', 'dry-run'])
    assert.deepEqual(actions.of('postfix').map((a) => a.backend), ['exec:record'])
    assert.equal(actions.backends.get('exec:record')?.name, 'exec')
  })

  test('an action whose command has a tag nothing fills is logged, not applied', () => {
    assert.ok(notes.some((n) => /^error: .*needs-port\.conf: actionban has <port>.* is logged, not applied$/.test(n)), notes.join('\n'))
  })

  test('the exec backend was set up and carries out both jails\' bans', async () => {
    const backend = actions.backends.get('exec:record')!
    const outcomes = await backend.actuate([ban('sshd', '192.0.2.7', 600), ban('postfix', '192.0.2.8', 600)])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'applied'])
    const lines = (await readFile(join(dir, 'record.log'), 'utf8')).trim().split('\n')
    assert.deepEqual(lines, ['start sshd', 'start mail', 'ban sshd 192.0.2.7', 'ban mail 192.0.2.8'])
  })
})
