import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { after, before, beforeEach, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { DEFAULT_CONTROL_PORT } from '../../src/api/api-settings.js'
import { buildApi } from '../../src/api/build-api.js'
import { clientCommand, DEFAULT_CONTROL_URL, TOKEN_ENV } from '../../src/cli/client-command.js'
import { MemoryControlPort } from '../api/control/memory-control-port.js'

const NOW = new Date('2005-08-14T10:00:00Z')
const TOKEN = 'client-test-token'

function sink(): Writable & { text: string } {
  const out = new Writable({ write(chunk, _enc, done) { out.text += String(chunk); done() } }) as Writable & { text: string }
  out.text = ''
  return out
}

/** Runs `banstream client <args>` in-process; `--url` and `--token` come first unless given. */
async function client(args: string[], env: NodeJS.ProcessEnv = {}) {
  const stdout = sink()
  const stderr = sink()
  let code: number | undefined
  const cmd = clientCommand({ stdout, stderr, env, setExitCode: (c) => { code = c } }).exitOverride()
  await cmd.parseAsync(args, { from: 'user' })
  return { code, stdout: stdout.text, stderr: stderr.text }
}

// What a terminal shows for fail2ban-client's tabs.
function expandTabs(text: string): string {
  return text.split('\n').map((line) => line.replace(/^([^\t]*)\t/, (_m, head: string) => head.padEnd((Math.floor(head.length / 8) + 1) * 8))).join('\n')
}

let port: MemoryControlPort
let app: FastifyInstance
let url: string
const auth = () => ['--url', url, '--token', TOKEN]

before(async () => {
  app = buildApi({ control: { jails: () => port.jails(), status: (j) => port.status(j), banned: () => port.banned(), liftedSince: (ms) => port.liftedSince(ms),
    ban: (j, ips, o) => port.ban(j, ips, o), unban: (j, ips) => port.unban(j, ips), reload: () => port.reload() },
  bind: '127.0.0.1', tokens: [{ token: TOKEN, role: 'operate' }] })
  await app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
})

after(async () => { await app.close() })

beforeEach(async () => {
  port = new MemoryControlPort([
    { name: 'sshd', file_list: ['/var/log/auth.log'], ignoreip: ['198.51.100.0/24'], ban_time_secs: 600, currently_failed: 8, total_failed: 26 },
    { name: 'postfix', file_list: ['/var/log/mail.log', '/var/log/mail.warn'], ban_time_secs: -1 },
  ], () => NOW)
})

describe('banstream client, text output', () => {
  test("status JAIL prints fail2ban-client's layout, tabs after the labels", async () => {
    await port.ban('sshd', ['192.0.2.1', '192.0.2.7'], {})
    const res = await client(['status', 'sshd', ...auth()])
    assert.equal(res.code, 0)
    assert.equal(res.stdout, [
      'Status for the jail: sshd',
      '|- Filter',
      '|  |- Currently failed:\t8',
      '|  |- Total failed:\t26',
      '|  `- File list:\t/var/log/auth.log',
      '`- Actions',
      '   |- Currently banned:\t2',
      '   |- Total banned:\t2',
      '   `- Banned IP list:\t192.0.2.1 192.0.2.7',
      '',
    ].join('\n'))
    assert.equal(expandTabs(res.stdout), [
      'Status for the jail: sshd',
      '|- Filter',
      '|  |- Currently failed: 8',
      '|  |- Total failed:     26',
      '|  `- File list:        /var/log/auth.log',
      '`- Actions',
      '   |- Currently banned: 2',
      '   |- Total banned:     2',
      '   `- Banned IP list:   192.0.2.1 192.0.2.7',
      '',
    ].join('\n'))
  })

  test('status JAIL joins several files and leaves empty lists empty', async () => {
    const res = await client(['status', 'postfix', ...auth()])
    assert.match(res.stdout, /\|  `- File list:\t\/var\/log\/mail\.log \/var\/log\/mail\.warn\n/)
    assert.match(res.stdout, /   `- Banned IP list:\t\n$/)
  })

  test('status without a jail prints the number of jails and their list', async () => {
    const res = await client(['status', ...auth()])
    assert.equal(res.stdout, 'Status\n|- Number of jail:\t2\n`- Jail list:\tsshd, postfix\n')
    assert.equal(expandTabs(res.stdout), 'Status\n|- Number of jail:      2\n`- Jail list:   sshd, postfix\n')
  })

  test('set JAIL banip prints how many addresses it newly banned', async () => {
    await port.ban('sshd', ['192.0.2.7'], {})
    const res = await client(['set', 'sshd', 'banip', '192.0.2.1', '192.0.2.7', '198.51.100.3', '2001:db8::5', ...auth()])
    assert.equal(res.stdout, '2\n')
    assert.deepEqual((await port.status('sshd'))!.actions.banned_ip_list, ['192.0.2.7', '192.0.2.1', '2001:db8::5'])
  })

  test('set JAIL unbanip prints how many bans ended, absent addresses counting 0', async () => {
    await port.ban('sshd', ['192.0.2.1', '192.0.2.0/24'], {})
    const res = await client(['set', 'sshd', 'unbanip', '192.0.2.1', '192.0.2.0/24', '203.0.113.9', ...auth()])
    assert.equal(res.stdout, '2\n')
    assert.deepEqual(await port.banned(), [])
  })

  test('banned prints the per-jail list as fail2ban-client prints it', async () => {
    await port.ban('sshd', ['192.0.2.1', '192.0.2.7'], {})
    const res = await client(['banned', ...auth()])
    assert.equal(res.stdout, "[{'sshd': ['192.0.2.1', '192.0.2.7']}, {'postfix': []}]\n")
  })

  test('unban IP... ends those bans in every jail and prints the count', async () => {
    await port.ban('sshd', ['192.0.2.1', '192.0.2.2'], {})
    await port.ban('postfix', ['192.0.2.1'], {})
    const res = await client(['unban', '192.0.2.1', ...auth()])
    assert.equal(res.stdout, '2\n')
    assert.deepEqual((await port.banned()).map((b) => b.ip), ['192.0.2.2'])
  })

  test('unban --all ends every ban and prints the count', async () => {
    await port.ban('sshd', ['192.0.2.1', '192.0.2.2'], {})
    await port.ban('postfix', ['192.0.2.1'], {})
    const res = await client(['unban', '--all', ...auth()])
    assert.equal(res.stdout, '3\n')
    assert.deepEqual(await port.banned(), [])
  })

  test('reload prints OK', async () => {
    const res = await client(['reload', ...auth()])
    assert.equal(res.stdout, 'OK\n')
    assert.equal(port.reloads, 1)
  })
})

describe('banstream client --json', () => {
  test('status JAIL --json prints the API answer', async () => {
    await port.ban('sshd', ['192.0.2.1'], {})
    const res = await client(['status', 'sshd', '--json', ...auth()])
    assert.deepEqual(JSON.parse(res.stdout), await port.status('sshd'))
  })

  test('status --json prints the jail list', async () => {
    assert.deepEqual(JSON.parse((await client(['status', '--json', ...auth()])).stdout), { jails: ['sshd', 'postfix'] })
  })

  test('set JAIL banip --json prints each result', async () => {
    const res = await client(['set', 'sshd', 'banip', '192.0.2.1', '198.51.100.3', '--json', ...auth()])
    assert.deepEqual(JSON.parse(res.stdout), { results: [{ ip: '192.0.2.1', result: 'banned' }, { ip: '198.51.100.3', result: 'ignored' }] })
  })

  test('set JAIL unbanip --json prints the count', async () => {
    await port.ban('sshd', ['192.0.2.1'], {})
    assert.deepEqual(JSON.parse((await client(['set', 'sshd', 'unbanip', '192.0.2.1', '--json', ...auth()])).stdout), { unbanned: 1 })
  })

  test('banned --json prints every ban with its expiry', async () => {
    await port.ban('sshd', ['192.0.2.1'], {})
    await port.ban('postfix', ['192.0.2.9'], {})
    assert.deepEqual(JSON.parse((await client(['banned', '--json', ...auth()])).stdout), { bans: [
      { jail: 'sshd', ip: '192.0.2.1', expires_at: '2005-08-14T10:10:00.000Z' },
      { jail: 'postfix', ip: '192.0.2.9', expires_at: null },
    ] })
  })

  test('unban and reload --json print the API answers', async () => {
    await port.ban('sshd', ['192.0.2.1'], {})
    assert.deepEqual(JSON.parse((await client(['unban', '--all', '--json', ...auth()])).stdout), { unbanned: 1 })
    assert.deepEqual(JSON.parse((await client(['reload', '--json', ...auth()])).stdout), { status: 'OK' })
  })
})

describe('banstream client errors and connection', () => {
  test('reads the token from the environment when --token is absent', async () => {
    const res = await client(['status', '--url', url], { [TOKEN_ENV]: TOKEN })
    assert.equal(res.code, 0)
  })

  test('exits 2 with one line when the token is missing', async () => {
    const res = await client(['status', '--url', url])
    assert.equal(res.code, 2)
    assert.equal(res.stdout, '')
    assert.equal(res.stderr, 'banstream: missing authorization header (BANSTREAM_ERR_UNAUTHORIZED)\n')
  })

  test('exits 2 with one line for a jail that is not running', async () => {
    const res = await client(['status', 'dovecot', ...auth()])
    assert.equal(res.code, 2)
    assert.equal(res.stdout, '')
    assert.equal(res.stderr, "banstream: jail 'dovecot' does not exist (BANSTREAM_ERR_UNKNOWN_JAIL)\n")
  })

  test('exits 2 with one line when the server is unreachable', async () => {
    const closed = buildApi({ control: port, bind: '127.0.0.1', tokens: undefined })
    await closed.listen({ host: '127.0.0.1', port: 0 })
    const deadUrl = `http://127.0.0.1:${(closed.server.address() as AddressInfo).port}`
    await closed.close()
    const res = await client(['reload', '--url', deadUrl])
    assert.equal(res.code, 2)
    assert.equal(res.stderr, `banstream: cannot reach the control API at ${deadUrl}: ECONNREFUSED\n`)
    assert.equal(port.reloads, 0)
  })

  test('refuses a jail name that would walk to another route, before any request', async () => {
    await port.ban('sshd', ['192.0.2.1'], {})
    const res = await client(['set', '..', 'unbanip', '192.0.2.1', ...auth()])
    assert.equal(res.code, 2)
    assert.equal(res.stderr, "banstream: ..: not a jail name (letters, digits, '_', '.' and '-')\n")
    assert.equal((await port.banned()).length, 1)
  })

  test('refuses an address that is not one, before any request', async () => {
    const res = await client(['set', 'sshd', 'banip', '192.0.2.1;reboot', ...auth()])
    assert.equal(res.code, 2)
    assert.equal(res.stderr, 'banstream: 192.0.2.1;reboot: not an IP address or CIDR network\n')
    assert.deepEqual(port.events, [])
  })

  test('unban needs addresses or --all, not both or neither', async () => {
    for (const args of [['unban'], ['unban', '--all', '192.0.2.1']]) {
      const res = await client([...args, ...auth()])
      assert.equal(res.code, 2)
      assert.equal(res.stderr, 'banstream: unban: give addresses or --all, not both or neither\n')
    }
  })

  test('defaults to the loopback control port', () => {
    assert.equal(DEFAULT_CONTROL_PORT, 7373)
    assert.equal(DEFAULT_CONTROL_URL, 'http://127.0.0.1:7373')
  })
})
