import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, beforeEach, describe, test } from 'node:test'
import { PfActuator } from '../../../sinks/actuators/pf-actuator.js'
import { pfJail } from '../../../sinks/actuators/pf-commands.js'
import { ban, lift } from './decision-fixtures.js'

// No BSD here: a fake pfctl, written below, records each call's argv and stdin
// and keeps tables and anchors in a JSON file, as pfctl would in the kernel.
// What it records is what a real pfctl would have been given.
const dir = mkdtempSync(join(tmpdir(), 'bs-pf-'))
const pfctl = join(dir, 'pfctl')
const calls = join(dir, 'calls.jsonl')
const state = join(dir, 'state.json')

writeFileSync(pfctl, `#!${process.execPath}
const fs = require('fs')
const argv = process.argv.slice(2)
const stdin = argv.includes('-f') ? fs.readFileSync(0, 'utf8') : ''
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ argv, stdin }) + '\\n')
const st = JSON.parse(fs.readFileSync(${JSON.stringify(state)}, 'utf8'))
const opt = (f) => { const i = argv.indexOf(f); return i < 0 ? undefined : argv[i + 1] }
const anchor = opt('-a'), table = opt('-t'), command = opt('-T')
if (anchor.includes('broken')) { process.stderr.write('pfctl: DIOCADDRULE: Operation not supported by device\\n'); process.exit(1) }
const key = anchor + ' ' + table
const lines = stdin.split('\\n').filter((l) => l !== '')
if (command === undefined) {
  st.rules[anchor] = stdin
} else if (command === 'show') {
  for (const a of st.tables[key] ?? []) process.stdout.write('   ' + a + '\\n')
} else {
  const have = new Set(st.tables[key] ?? [])
  let n = 0
  for (const a of lines) if (command === 'add' ? !have.has(a) && have.add(a) : have.delete(a)) n++
  st.tables[key] = [...have]
  process.stderr.write(n + '/' + lines.length + ' addresses ' + (command === 'add' ? 'added' : 'deleted') + '.\\n')
}
fs.writeFileSync(${JSON.stringify(state)}, JSON.stringify(st))
`)
chmodSync(pfctl, 0o755)

const services = new Map([['ssh', 22]])
const sshd = pfJail('sshd', {}, services)
const postfix = pfJail('postfix', { port: '25', name: 'mail' }, services)
const broken = pfJail('broken', {}, services)

function recorded(): { argv: string[]; stdin: string }[] {
  try {
    return readFileSync(calls, 'utf8').trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
  } catch {
    return []
  }
}

function table(anchor: string, name: string): string[] {
  const st = JSON.parse(readFileSync(state, 'utf8'))
  return [...(st.tables[`${anchor} ${name}`] ?? [])].sort()
}

describe('pf actuator (fake pfctl)', () => {
  let actuator: PfActuator

  beforeEach(() => {
    writeFileSync(state, JSON.stringify({ tables: {}, rules: {} }))
    writeFileSync(calls, '')
    actuator = new PfActuator({ jails: [sshd, postfix, broken], pfctl })
  })

  after(() => rmSync(dir, { recursive: true, force: true }))

  test("setup loads each jail's table and block rule into its anchor from stdin", async () => {
    const ok = new PfActuator({ jails: [sshd, postfix], pfctl })
    assert.deepEqual(await ok.setup(), { ok: true })
    assert.deepEqual(recorded(), [
      { argv: ['-a', 'f2b/sshd', '-f', '-'], stdin: 'table <f2b-sshd> persist counters\nblock quick proto tcp from <f2b-sshd> to any port { 22 }\n' },
      { argv: ['-a', 'f2b/mail', '-f', '-'], stdin: 'table <f2b-mail> persist counters\nblock quick proto tcp from <f2b-mail> to any port { 25 }\n' },
    ])
  })

  test("a failing pfctl fails setup with pfctl's message", async () => {
    const result = await actuator.setup()
    assert.equal(result.ok, false)
    assert.match(!result.ok ? result.error : '', /anchor broken: pfctl: DIOCADDRULE/)
  })

  test("a run of bans is one pfctl per jail, the jail's addresses on stdin, re-serialised", async () => {
    const decisions = [ban('sshd', '192.0.2.7', 600), ban('sshd', '2001:DB8::7', 600), ban('postfix', '198.51.100.0/24', -1)]
    assert.deepEqual((await actuator.actuate(decisions)).map((o) => o.outcome), ['applied', 'applied', 'applied'])
    assert.deepEqual(recorded(), [
      { argv: ['-a', 'f2b/sshd', '-t', 'f2b-sshd', '-T', 'add', '-f', '-'], stdin: '192.0.2.7\n2001:db8::7\n' },
      { argv: ['-a', 'f2b/mail', '-t', 'f2b-mail', '-T', 'add', '-f', '-'], stdin: '198.51.100.0/24\n' },
    ])
    assert.deepEqual(table('f2b/sshd', 'f2b-sshd'), ['192.0.2.7', '2001:db8::7'])
  })

  test('decisions keep their order: a ban, its lift and a new ban of one address end banned', async () => {
    const first = ban('sshd', '192.0.2.7', 600)
    const again = ban('sshd', '192.0.2.7', 600)
    assert.deepEqual((await actuator.actuate([first, lift(first), again])).map((o) => o.outcome), ['applied', 'removed', 'applied'])
    assert.deepEqual(recorded().map((c) => c.argv[5]), ['add', 'delete', 'add'])
    assert.deepEqual(table('f2b/sshd', 'f2b-sshd'), ['192.0.2.7'])
  })

  test('applying a ban twice and lifting an absent one both succeed', async () => {
    const b = ban('sshd', '192.0.2.8', 600)
    assert.deepEqual((await actuator.actuate([b, b])).map((o) => o.outcome), ['applied', 'applied'])
    assert.deepEqual(recorded()[0]!.stdin, '192.0.2.8\n')
    assert.deepEqual((await actuator.actuate([lift(b), lift(b)])).map((o) => o.outcome), ['removed', 'removed'])
    assert.deepEqual(table('f2b/sshd', 'f2b-sshd'), [])
  })

  test("hostile addresses, unknown jails and over bans never reach pfctl; a failing jail's bans carry pfctl's error", async () => {
    const hostile = { ...ban('sshd', '192.0.2.9', 600), ip: '192.0.2.9\n0.0.0.0/0' }
    const stranger = ban('nginx', '192.0.2.10', 600)
    const over = { ...ban('sshd', '192.0.2.11', 600), expires_at: new Date(Date.now() - 1000).toISOString() }
    const failing = ban('broken', '192.0.2.12', 600)
    const outcomes = await actuator.actuate([hostile, stranger, over, failing])
    assert.deepEqual(outcomes.map((o) => o.outcome), ['failed', 'failed', 'skipped', 'failed'])
    assert.match(outcomes[1]!.error!, /no pf action/)
    assert.match(outcomes[3]!.error!, /DIOCADDRULE/)
    assert.deepEqual(recorded().map((c) => c.argv.slice(0, 2)), [['-a', 'f2b/broken']])
  })

  test('reconcile adds missing bans, deletes stale and over ones, and leaves the rest', async () => {
    const ok = new PfActuator({ jails: [sshd, postfix], pfctl })
    const kept = ban('sshd', '192.0.2.1', 600)
    const flushed = ban('sshd', '192.0.2.2', -1)
    const ended = { ...ban('postfix', '192.0.2.3', 600), expires_at: new Date(Date.now() - 1000).toISOString() }
    await ok.actuate([kept, ban('sshd', '192.0.2.4', 600), ban('postfix', '192.0.2.3', 600)])
    assert.deepEqual(await ok.reconcile([kept, flushed, ended]), { ok: true, added: 1, removed: 2 })
    assert.deepEqual(table('f2b/sshd', 'f2b-sshd'), ['192.0.2.1', '192.0.2.2'])
    assert.deepEqual(table('f2b/mail', 'f2b-mail'), [])
    assert.deepEqual(await ok.reconcile([kept, flushed]), { ok: true, added: 0, removed: 0 })
  })
})
