import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { ExecActuator, type ExecActuatorOptions } from '../../../sinks/actuators/exec-actuator.js'
import type { JailConfig } from '../../../src/config/jail-config.js'
import { loadExecAction } from '../../../src/roles/exec-action.js'
import { ban, lift, until } from './decision-fixtures.js'

const HOST = { fq: 'fw1.example.org', short: 'fw1' }
const root = mkdtempSync(join(tmpdir(), 'bs-exec-actuator-'))
mkdirSync(join(root, 'action.d'))
after(() => rmSync(root, { recursive: true, force: true }))

let files = 0

/**
 * Writes an action.d file whose commands append to its own log (`<log>`), and
 * an actuator running it for the jail sshd. `definition` holds the
 * [Definition] lines, `init` more [Init] lines.
 */
function recorder(definition: string, options: Partial<ExecActuatorOptions> = {}, init = '') {
  const name = `record-${++files}`
  const log = join(root, `${name}.log`)
  writeFileSync(join(root, 'action.d', `${name}.conf`), `[Definition]\n${definition}\n\n[Init]\nlog = ${log}\nflag = ${log}.ok\n${init}\n`)
  const jail: JailConfig = { name: 'sshd', enabled: true, options: {}, actions: [], logpath: [] }
  const action = loadExecAction(root, jail, { name, args: {} })
  const actuator = new ExecActuator({ jails: [action], host: HOST, ...options })
  return {
    actuator,
    lines: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
    flag: `${log}.ok`,
    pidFile: `${log}.pid`,
  }
}

const BASIC = [
  'actionstart = echo "start <name>" >> <log>',
  'actionstop = echo "stop <name>" >> <log>',
  'actionban = echo "ban <ip> <bantime> <restored>" >> <log>',
  'actionunban = echo "unban <ip>" >> <log>',
].join('\n')

describe('exec actuator', () => {
  test('runs actionstart at setup, actionban and actionunban per decision, actionstop at teardown', async () => {
    const { actuator, lines } = recorder(BASIC)
    assert.deepEqual(await actuator.setup(), { ok: true })
    const b = ban('sshd', '2001:DB8::5', 600)
    assert.deepEqual(await actuator.actuate([b, lift(b)]), [
      { decision_event_id: b.event_id, jail: 'sshd', ip: '2001:DB8::5', outcome: 'applied' },
      { decision_event_id: `lift-${b.event_id}`, jail: 'sshd', ip: '2001:DB8::5', outcome: 'removed' },
    ])
    assert.deepEqual(await actuator.teardown(), { ok: true })
    assert.deepEqual(lines(), ['start sshd', 'ban 2001:db8::5 600 0', 'unban 2001:db8::5', 'stop sshd'])
  })

  test('setup again starts nothing already started', async () => {
    const { actuator, lines } = recorder(BASIC)
    await actuator.setup()
    await actuator.setup()
    assert.deepEqual(lines(), ['start sshd'])
  })

  test('teardown unbans what is still banned before actionstop, or runs actionflush when the action has one', async () => {
    const plain = recorder(BASIC)
    await plain.actuator.setup()
    await plain.actuator.actuate([ban('sshd', '192.0.2.1', 600), ban('sshd', '192.0.2.2', 600)])
    await plain.actuator.teardown()
    assert.deepEqual(plain.lines().slice(3), ['unban 192.0.2.1', 'unban 192.0.2.2', 'stop sshd'])
    const flushing = recorder(`${BASIC}\nactionflush = echo flush >> <log>`)
    await flushing.actuator.setup()
    await flushing.actuator.actuate([ban('sshd', '192.0.2.1', 600), ban('sshd', '192.0.2.2', 600)])
    await flushing.actuator.teardown()
    assert.deepEqual(flushing.lines().slice(3), ['flush', 'stop sshd'])
  })

  test('a ban applied twice runs actionban once; one ending later runs actionprolong', async () => {
    const { actuator, lines } = recorder(`${BASIC}\nactionprolong = echo "prolong <ip> <bantime>" >> <log>`)
    await actuator.setup()
    const first = ban('sshd', '192.0.2.7', 600)
    const longer = { ...ban('sshd', '192.0.2.7', 3600), reason: 'prolonged' as const }
    const outcomes = await actuator.actuate([first, first, longer, first])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['applied', 'applied', 'applied', 'applied'])
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.7 600 0', 'prolong 192.0.2.7 3600'])
  })

  test('without actionprolong, a ban of a banned address runs nothing', async () => {
    const { actuator, lines } = recorder(BASIC)
    await actuator.setup()
    await actuator.actuate([ban('sshd', '192.0.2.7', 600), ban('sshd', '192.0.2.7', 3600)])
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.7 600 0'])
  })

  test('lifting a ban this process never applied succeeds without running actionunban', async () => {
    const { actuator, lines } = recorder(BASIC)
    await actuator.setup()
    const b = ban('sshd', '192.0.2.7', 600)
    assert.equal((await actuator.actuate([lift(b)]))[0]!.outcome, 'removed')
    assert.deepEqual(lines(), ['start sshd'])
  })

  test('a ban starts an action whose setup failed or never ran', async () => {
    const { actuator, lines } = recorder(BASIC)
    await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.7 600 0'])
  })

  test('a ban already expired is skipped, one of another jail fails', async () => {
    const { actuator, lines } = recorder(BASIC)
    const expired = { ...ban('sshd', '192.0.2.7', 600), expires_at: '2020-01-01T00:00:00.000Z' }
    const outcomes = await actuator.actuate([expired, ban('postfix', '192.0.2.8', 600)])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['skipped', 'failed'])
    assert.match(outcomes[1]!.error!, /jail postfix has no exec action/)
    assert.deepEqual(lines(), [])
  })

  test('a failing command is a failed ban carrying what it printed', async () => {
    const { actuator } = recorder('actionban = echo "no chain for <ip>" >&2; exit 3')
    const [o] = await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.equal(o!.outcome, 'failed')
    assert.match(o!.error!, /record-\d+\.conf actionban \(jail sshd\) exited with code 3: no chain for 192\.0\.2\.7/)
  })

  test('a command the kernel refuses to start (matches past the 128 KiB an argument may hold) fails its ban alone', async () => {
    const { actuator, lines } = recorder('actionban = echo "ban <ip> <matches>" | wc -c >> <log>')
    const huge = Array.from({ length: 3 }, (_, i) => `Jan 10 12:00:0${i} web app[1]: auth failure for user ${'A'.repeat(45_000)} from 203.0.113.5`)
    const [big, small] = await actuator.actuate([{ ...ban('sshd', '203.0.113.5', 600), matches: huge }, ban('sshd', '192.0.2.7', 600)])
    assert.equal(big!.outcome, 'failed')
    assert.match(big!.error!, /E2BIG/)
    assert.equal(small!.outcome, 'applied')
    assert.equal(lines().length, 1, 'only the small ban ran')
  })

  test('a failing actioncheck is repaired by actionrepair and checked again before the ban', async () => {
    const { actuator, lines, flag } = recorder(`${BASIC}\nactioncheck = test -f <flag>\nactionrepair = touch <flag>; echo repair >> <log>`)
    await actuator.setup()
    const [o] = await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.equal(o!.outcome, 'applied')
    assert.ok(existsSync(flag))
    assert.deepEqual(lines(), ['start sshd', 'repair', 'ban 192.0.2.7 600 0'])
  })

  test('without actionrepair, a failing check restarts the action', async () => {
    const { actuator, lines, flag } = recorder(`${BASIC.replace('actionstart = ', 'actionstart = touch <flag>; ')}\nactioncheck = test -f <flag>`)
    await actuator.setup()
    rmSync(flag)
    await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.deepEqual(lines(), ['start sshd', 'stop sshd', 'start sshd', 'ban 192.0.2.7 600 0'])
  })

  test('a check that still fails after the repair fails the ban without running it', async () => {
    const { actuator, lines } = recorder(`${BASIC}\nactioncheck = false\nactionrepair = echo repair >> <log>`)
    const [o] = await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.equal(o!.outcome, 'failed')
    assert.match(o!.error!, /unable to restore a sane environment/)
    assert.deepEqual(lines(), ['start sshd', 'repair'])
  })

  test('an unban whose check fails is not repaired for unless actionrepair_on_unban', async () => {
    const definition = `${BASIC}\nactioncheck = test -f <flag>\nactionrepair = touch <flag>; echo repair >> <log>`
    for (const [extra, outcome, last] of [['', 'failed', 'ban 192.0.2.7 600 0'], ['actionrepair_on_unban = true', 'removed', 'unban 192.0.2.7']] as const) {
      const { actuator, lines, flag } = recorder(`${definition}\n${extra}`)
      writeFileSync(flag, '')
      const b = ban('sshd', '192.0.2.7', 600)
      await actuator.actuate([b])
      rmSync(flag)
      assert.equal((await actuator.actuate([lift(b)]))[0]!.outcome, outcome)
      assert.equal(lines().at(-1), last)
    }
  })

  test('after a repair, reconcile applies the bans it may have lost again with actionreban', async () => {
    const { actuator, lines, flag } = recorder(`${BASIC}\nactioncheck = test -f <flag>\nactionrepair = touch <flag>\nactionreban = echo "reban <ip>" >> <log>`)
    writeFileSync(flag, '')
    const a = ban('sshd', '192.0.2.1', 600)
    const b = ban('sshd', '192.0.2.2', 600)
    await actuator.actuate([a])
    rmSync(flag)
    await actuator.actuate([b])
    assert.deepEqual(await actuator.reconcile([a, b]), { ok: true, added: 1, removed: 0 })
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.1 600 0', 'ban 192.0.2.2 600 0', 'reban 192.0.2.1'])
  })

  test('after a repair, a ban decision for an address applied before runs actionreban', async () => {
    const { actuator, lines, flag } = recorder(`${BASIC}\nactioncheck = test -f <flag>\nactionrepair = touch <flag>\nactionreban = echo "reban <ip>" >> <log>`)
    writeFileSync(flag, '')
    const a = ban('sshd', '192.0.2.1', 600)
    await actuator.actuate([a])
    rmSync(flag)
    await actuator.actuate([ban('sshd', '192.0.2.2', 600)])
    assert.equal((await actuator.actuate([a]))[0]!.outcome, 'applied')
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.1 600 0', 'ban 192.0.2.2 600 0', 'reban 192.0.2.1'])
  })

  test('a restart that fails after a failed check fails the ban', async () => {
    const { actuator, lines, flag } = recorder(`${BASIC.replace('actionstart = ', 'actionstart = [ ! -f <flag>.broken ] && ')}\nactioncheck = test -f <flag>`)
    assert.deepEqual(await actuator.setup(), { ok: true })
    writeFileSync(`${flag}.broken`, '')
    const [o] = await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.equal(o!.outcome, 'failed')
    assert.match(o!.error!, /unable to restore a sane environment: .*actionstart/)
    assert.deepEqual(lines(), ['start sshd', 'stop sshd'])
  })

  test('a hanging command is killed, with the processes it started, at the action timeout', async () => {
    const { actuator, pidFile } = recorder('actionban = sleep 60 & echo $! > <log>.pid; wait', {}, 'timeout = 1')
    const [o] = await actuator.actuate([ban('sshd', '192.0.2.7', 600)])
    assert.equal(o!.outcome, 'failed')
    assert.match(o!.error!, /timed out after 1 s/)
    const pid = Number(readFileSync(pidFile, 'utf8'))
    await until('the sleep to be killed', async () => {
      try {
        process.kill(pid, 0)
        return false
      } catch {
        return true
      }
    }, 5_000)
  })

  test('reconcile restores the bans in force with <restored> = 1 and unbans those ended on this clock', async () => {
    let now = Date.now()
    const { actuator, lines } = recorder(BASIC, { now: () => now })
    const short = ban('sshd', '192.0.2.1', 60)
    const long = ban('sshd', '192.0.2.2', 3600)
    assert.deepEqual(await actuator.reconcile([short, long, ban('postfix', '192.0.2.3', 600)]), { ok: true, added: 2, removed: 0 })
    assert.deepEqual(await actuator.reconcile([short, long]), { ok: true, added: 0, removed: 0 })
    now += 120_000
    assert.deepEqual(await actuator.reconcile([short, long]), { ok: true, added: 0, removed: 1 })
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.1 60 1', 'ban 192.0.2.2 3600 1', 'unban 192.0.2.1'])
  })

  test('reconcile does not restore bans for norestored actions', async () => {
    const { actuator, lines } = recorder(`${BASIC}\nnorestored = 1`)
    const b = ban('sshd', '192.0.2.1', 600)
    assert.deepEqual(await actuator.reconcile([b]), { ok: true, added: 0, removed: 0 })
    assert.equal((await actuator.actuate([b]))[0]!.outcome, 'applied')
    assert.deepEqual(lines(), ['start sshd', 'ban 192.0.2.1 600 0'])
  })

  test('an on-demand action starts each family before its first ban', async () => {
    const { actuator, lines } = recorder(`${BASIC.replace('"start <name>"', '"start <family>"')}\nactionstart_on_demand = true`)
    assert.deepEqual(await actuator.setup(), { ok: true })
    await actuator.actuate([ban('sshd', '192.0.2.1', 600), ban('sshd', '192.0.2.2', 600), ban('sshd', '2001:db8::1', 600)])
    assert.deepEqual(lines(), ['start inet4', 'ban 192.0.2.1 600 0', 'ban 192.0.2.2 600 0', 'start inet6', 'ban 2001:db8::1 600 0'])
  })

  test('<ip-host> is looked up for the actions that use it', async () => {
    const asked: string[] = []
    const reverseLookup = async (ip: string) => { asked.push(ip); return 'scanner.example.net' }
    const named = recorder('actionban = echo "<ip> is <ip-host> from <fq-hostname>" >> <log>', { reverseLookup })
    await named.actuator.actuate([ban('sshd', '192.0.2.1', 600)])
    assert.deepEqual(named.lines(), ['192.0.2.1 is scanner.example.net from fw1.example.org'])
    const plain = recorder(BASIC, { reverseLookup })
    await plain.actuator.actuate([ban('sshd', '192.0.2.2', 600)])
    assert.deepEqual(asked, ['192.0.2.1'])
  })
})
