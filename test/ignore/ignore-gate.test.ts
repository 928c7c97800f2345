import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { firstValueFrom, of, Subject, toArray } from 'rxjs'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import { IgnoreCommand } from '../../src/ignore/ignore-command.js'
import { ignoreGate } from '../../src/ignore/ignore-gate.js'

const dir = mkdtempSync(join(tmpdir(), 'banstream-ignoregate-'))
after(() => rmSync(dir, { recursive: true, force: true }))

// Ignores 192.0.2.1 only.
const checker = join(dir, 'googlebot')
writeFileSync(checker, '#!/bin/sh\n[ "$1" = 192.0.2.1 ] && exit 0\nexit 1\n')
chmodSync(checker, 0o755)

let n = 0
function failure(jail: string, ip: string, extra: Partial<FailureDetected> = {}): FailureDetected {
  return {
    type: 'FailureDetected', event_id: `e${n++}`, jail, ip, host: 'web1', matches: [],
    occurred_at: '2005-08-14T10:00:00.000Z', source: '/var/log/apache2/access.log', regex_index: 0, ...extra,
  }
}

const notIgnored = (f: FailureDetected) => assert.fail(`${f.ip} was reported ignored`)
const commands = () => new Map([['apache-fakegooglebot', new IgnoreCommand('apache-fakegooglebot', `${checker} <ip>`, { warn: assert.fail })]])

test('drops what the command ignores, reports it, and keeps the order of the rest', async () => {
  const input = [
    failure('apache-fakegooglebot', '192.0.2.1'),
    failure('sshd', '192.0.2.1'),
    failure('apache-fakegooglebot', '192.0.2.2'),
    failure('sshd', '198.51.100.1'),
    failure('apache-fakegooglebot', '192.0.2.1'),
    failure('apache-fakegooglebot', '192.0.2.3'),
    failure('sshd', '198.51.100.2'),
  ]
  const ignored: FailureDetected[] = []
  const out = await firstValueFrom(of(...input).pipe(ignoreGate(commands(), (f) => ignored.push(f)), toArray()))
  assert.deepEqual(out.map((f) => f.event_id), [input[1], input[2], input[3], input[5], input[6]].map((f) => f!.event_id))
  assert.deepEqual(ignored.map((f) => f.event_id), [input[0]!.event_id, input[4]!.event_id])
})

test('failures of jails without a command pass synchronously', () => {
  const out: FailureDetected[] = []
  of(failure('sshd', '192.0.2.1'), failure('postfix', '192.0.2.2')).pipe(ignoreGate(commands(), notIgnored)).subscribe((f) => out.push(f))
  assert.equal(out.length, 2)
})

test('a success line passes without asking the command', () => {
  const out: FailureDetected[] = []
  of(failure('apache-fakegooglebot', '192.0.2.1', { success: true })).pipe(ignoreGate(commands(), notIgnored)).subscribe((f) => out.push(f))
  assert.equal(out.length, 1)
})

test('a cached answer passes or drops synchronously', async () => {
  const gate = commands()
  await gate.get('apache-fakegooglebot')!.isIgnored({ ip: '192.0.2.2' })
  await gate.get('apache-fakegooglebot')!.isIgnored({ ip: '192.0.2.1' })
  const out: FailureDetected[] = []
  const ignored: FailureDetected[] = []
  of(failure('apache-fakegooglebot', '192.0.2.2'), failure('apache-fakegooglebot', '192.0.2.1'))
    .pipe(ignoreGate(gate, (f) => ignored.push(f))).subscribe((f) => out.push(f))
  assert.deepEqual([out.length, ignored.length], [1, 1])
})

test('failures behind one that waits for its command wait with it', async () => {
  const source = new Subject<FailureDetected>()
  const out: string[] = []
  const done = new Promise<void>((resolve) => source.pipe(ignoreGate(commands(), () => {})).subscribe({ next: (f) => out.push(f.ip), complete: resolve }))
  source.next(failure('apache-fakegooglebot', '192.0.2.9'))
  source.next(failure('sshd', '198.51.100.1'))
  assert.deepEqual(out, [])
  source.complete()
  await done
  assert.deepEqual(out, ['192.0.2.9', '198.51.100.1'])
})
