import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import type { JailConfig } from '../../src/config/jail-config.js'
import { IgnoreCommand, ignoreCommandsOf, parseIgnoreCache } from '../../src/ignore/ignore-command.js'

const dir = mkdtempSync(join(tmpdir(), 'banstream-ignorecommand-'))
after(() => rmSync(dir, { recursive: true, force: true }))

let scripts = 0
/** A shell script in the temp dir that appends each argument, bracketed, as one line of `log`, then runs `body`. */
function script(body: string): { path: string; log: string; calls: () => string[][] } {
  const name = `s${scripts++}`
  const path = join(dir, name)
  const log = join(dir, `${name}.log`)
  writeFileSync(path, `#!/bin/sh\nfor a in "$@"; do printf '[%s]' "$a"; done >> '${log}'\necho >> '${log}'\n${body}\n`)
  chmodSync(path, 0o755)
  const calls = () => existsSync(log)
    ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => [...l.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!))
    : []
  return { path, log, calls }
}

function collect(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = []
  return { warn: (m) => warnings.push(m), warnings }
}

test('exit 0 ignores the failure, without a warning', async () => {
  const { warn, warnings } = collect()
  const s = script('exit 0')
  assert.equal(await new IgnoreCommand('sshd', `${s.path} <ip>`, { warn }).isIgnored({ ip: '192.0.2.1' }), true)
  assert.deepEqual(warnings, [])
  assert.deepEqual(s.calls(), [['192.0.2.1']])
})

test('exit 1 counts the failure, without a warning', async () => {
  const { warn, warnings } = collect()
  const s = script('exit 1')
  assert.equal(await new IgnoreCommand('sshd', `${s.path} <ip>`, { warn }).isIgnored({ ip: '192.0.2.1' }), false)
  assert.deepEqual(warnings, [])
})

test('another exit code counts the failure and warns with the code and the command\'s stderr', async () => {
  const { warn, warnings } = collect()
  const s = script('echo "lookup broke" >&2; exit 2')
  assert.equal(await new IgnoreCommand('sshd', `${s.path} <ip>`, { warn }).isIgnored({ ip: '192.0.2.1' }), false)
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, /\[sshd\] ignorecommand .* exited with code 2: lookup broke; the failure counts/)
})

test('a command that cannot start counts the failure and warns', async () => {
  const { warn, warnings } = collect()
  const command = new IgnoreCommand('sshd', `${join(dir, 'missing')} <ip>`, { warn })
  assert.equal(await command.isIgnored({ ip: '192.0.2.1' }), false)
  assert.match(warnings[0] ?? '', /could not run: .*ENOENT/)
})

test('a command past its timeout is killed with what it started, the failure counts and a warning says so', async () => {
  const { warn, warnings } = collect()
  const pidFile = join(dir, 'sleeper.pid')
  const s = script(`sleep 30 & echo $! > '${pidFile}'; wait`)
  const command = new IgnoreCommand('sshd', `${s.path} <ip>`, { warn, timeoutMs: 300 })
  assert.equal(await command.isIgnored({ ip: '192.0.2.1' }), false)
  assert.match(warnings[0] ?? '', /timed out after 300 ms/)
  const sleeper = Number(readFileSync(pidFile, 'utf8'))
  // The kill is asynchronous: wait (bounded) for the grandchild to be gone.
  const deadline = Date.now() + 5000
  while (alive(sleeper) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  assert.ok(!alive(sleeper), 'the sleep the command started is still running')
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test('tags are put into each word after splitting: quoted text stays one argument', async () => {
  const { warn } = collect()
  const s = script('exit 1')
  const command = new IgnoreCommand('sshd', `${s.path} "address <ip> (<family>)" --user=<F-USER> '<fid>' <unknown>`, { warn })
  await command.isIgnored({ ip: '2001:DB8::0:1', user: 'alice.b@example.org' })
  assert.deepEqual(s.calls(), [['address 2001:db8::1 (inet6)', '--user=alice.b@example.org', '2001:db8::1', '<unknown>']])
})

test('an <F-USER> with blanks, quotes or shell code never runs the command and never splits', async () => {
  const pwned = join(dir, 'pwned')
  const hostile = ['a b', `x; touch ${pwned}`, `$(touch ${pwned})`, `\`touch ${pwned}\``, `it's`, 'a\nb', '--exec=/bin/true', '']
  for (const user of hostile) {
    const { warn, warnings } = collect()
    const s = script('exit 0')
    const ignored = await new IgnoreCommand('sshd', `${s.path} <ip> <F-USER>`, { warn }).isIgnored({ ip: '192.0.2.1', user: user || '-' })
    assert.equal(ignored, false, JSON.stringify(user))
    assert.deepEqual(s.calls(), [], JSON.stringify(user))
    assert.match(warnings[0] ?? '', /<F-USER> .* may not go into a command line; the failure counts/)
  }
  assert.ok(!existsSync(pwned))
})

test('shell characters in a failure field are harmless when the command does not use that field', async () => {
  const { warn, warnings } = collect()
  const s = script('exit 0')
  assert.equal(await new IgnoreCommand('sshd', `${s.path} <ip>`, { warn }).isIgnored({ ip: '192.0.2.1', user: '$(reboot)' }), true)
  assert.deepEqual(warnings, [])
})

test('an <ip> that is not an address never runs the command', async () => {
  const { warn, warnings } = collect()
  const s = script('exit 0')
  assert.equal(await new IgnoreCommand('sshd', `${s.path} <ip>`, { warn }).isIgnored({ ip: '192.0.2.1; reboot' }), false)
  assert.deepEqual(s.calls(), [])
  assert.match(warnings[0] ?? '', /is not an IP address/)
})

test('a cached answer does not run the command again', async () => {
  const { warn } = collect()
  const s = script('exit 0')
  const command = new IgnoreCommand('sshd', `${s.path} <ip>`, { warn, now: () => 0 })
  assert.equal(await command.isIgnored({ ip: '192.0.2.1' }), true)
  assert.equal(command.cached({ ip: '192.0.2.1' }), true)
  assert.equal(await command.isIgnored({ ip: '192.0.2.1' }), true)
  assert.equal(s.calls().length, 1)
  assert.equal(command.cached({ ip: '192.0.2.2' }), undefined)
})

test('without ignorecache, answers are kept per command line for 5 minutes', async () => {
  const { warn } = collect()
  const s = script('exit 1')
  let now = 0
  const command = new IgnoreCommand('sshd', `${s.path} <ip> <F-USER>`, { warn, now: () => now })
  await command.isIgnored({ ip: '192.0.2.1', user: 'alice' })
  await command.isIgnored({ ip: '192.0.2.1', user: 'bob' })
  await command.isIgnored({ ip: '192.0.2.1', user: 'alice' })
  assert.equal(s.calls().length, 2)
  now = 301
  await command.isIgnored({ ip: '192.0.2.1', user: 'alice' })
  assert.equal(s.calls().length, 3)
})

test('ignorecache key="<ip>" shares one answer among the failures of an address, for max-time', async () => {
  const { warn } = collect()
  const s = script('exit 0')
  let now = 0
  const cache = parseIgnoreCache('sshd', 'key="<ip>", max-count=10, max-time=1m')
  const command = new IgnoreCommand('sshd', `${s.path} <ip> <F-USER>`, { warn, cache, now: () => now })
  await command.isIgnored({ ip: '192.0.2.1', user: 'alice' })
  await command.isIgnored({ ip: '192.0.2.1', user: 'bob' })
  assert.equal(s.calls().length, 1)
  now = 61
  await command.isIgnored({ ip: '192.0.2.1', user: 'bob' })
  assert.equal(s.calls().length, 2)
})

test('ignorecache max-count bounds the answers kept', async () => {
  const { warn } = collect()
  const s = script('exit 0')
  const command = new IgnoreCommand('sshd', `${s.path} <ip>`, { warn, cache: parseIgnoreCache('sshd', 'key=<ip>, max-count=2'), now: () => 0 })
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await command.isIgnored({ ip })
  assert.equal(command.cached({ ip: '192.0.2.1' }), undefined)
  assert.equal(command.cached({ ip: '192.0.2.3' }), true)
})

test('concurrent questions with one key run the command once', async () => {
  const { warn } = collect()
  const s = script('exit 0')
  const command = new IgnoreCommand('sshd', `${s.path} <ip>`, { warn })
  const answers = await Promise.all([command.isIgnored({ ip: '192.0.2.1' }), command.isIgnored({ ip: '192.0.2.1' })])
  assert.deepEqual(answers, [true, true])
  assert.equal(s.calls().length, 1)
})

test('errors are cached like answers, as fail2ban caches them', async () => {
  const { warn, warnings } = collect()
  const s = script('exit 3')
  const command = new IgnoreCommand('sshd', `${s.path} <ip>`, { warn, now: () => 0 })
  await command.isIgnored({ ip: '192.0.2.1' })
  await command.isIgnored({ ip: '192.0.2.1' })
  assert.equal(s.calls().length, 1)
  assert.equal(warnings.length, 1)
})

test('parseIgnoreCache reads fail2ban\'s syntax and defaults', () => {
  assert.deepEqual(parseIgnoreCache('j', 'key="<ip>", max-count=100, max-time=5m'), { key: '<ip>', max_count: 100, max_time_secs: 300 })
  assert.deepEqual(parseIgnoreCache('j', `key='<F-USER>@<ip>'`), { key: '<F-USER>@<ip>', max_count: 100, max_time_secs: 300 })
  assert.throws(() => parseIgnoreCache('j', 'max-count=5'), (err) => err instanceof ConfigError && /key is required/.test(err.message))
  assert.throws(() => parseIgnoreCache('j', 'key=<ip>, max-count=0'), /max-count/)
  assert.throws(() => parseIgnoreCache('j', 'key=<ip>, max-time=soon'), /max-time/)
})

test('a command with shell syntax is run anyway, with a warning at start', () => {
  const { warn, warnings } = collect()
  new IgnoreCommand('sshd', '/usr/bin/test <ip> = 1 && exit 0', { warn })
  assert.match(warnings[0] ?? '', /'&&', which only a shell understands/)
})

test('an empty command, an unterminated quote or a tag as the program is refused at start', () => {
  const { warn } = collect()
  assert.throws(() => new IgnoreCommand('sshd', '  ', { warn }), ConfigError)
  assert.throws(() => new IgnoreCommand('sshd', '/bin/check "<ip>', { warn }), /unterminated/)
  assert.throws(() => new IgnoreCommand('sshd', '<ip> x', { warn }), /may not be a tag/)
})

test('ignoreCommandsOf builds one command per jail that has one, with its ignorecache', async () => {
  const { warn } = collect()
  const s = script('exit 0')
  const jails: JailConfig[] = [
    { name: 'web', enabled: true, options: { ignorecommand: `${s.path} <ip>`, ignorecache: 'key="<ip>", max-time=1h' }, actions: [], logpath: [] },
    { name: 'sshd', enabled: true, options: { ignorecommand: '' }, actions: [], logpath: [] },
  ]
  const commands = ignoreCommandsOf(jails, { warn })
  assert.deepEqual([...commands.keys()], ['web'])
  assert.equal(await commands.get('web')!.isIgnored({ ip: '192.0.2.1' }), true)
})
