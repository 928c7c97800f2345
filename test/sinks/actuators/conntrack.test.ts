import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { endFlows } from '../../../sinks/actuators/conntrack.js'
import type { CommandResult } from '../../../sinks/actuators/run-command.js'

const FLOWS: Record<string, string> = {
  ipv4: [
    'tcp      6 431999 ESTABLISHED src=198.51.100.1 dst=192.0.2.1 sport=40000 dport=22 src=192.0.2.1 dst=198.51.100.1 sport=22 dport=40000 [ASSURED] mark=0 use=1',
    'udp      17 29 src=198.51.100.1 dst=192.0.2.1 sport=5060 dport=5060 [UNREPLIED] src=192.0.2.1 dst=198.51.100.1 sport=5060 dport=5060 mark=0 use=1',
    'udp      17 29 src=203.0.113.77 dst=192.0.2.1 sport=5060 dport=5060 [UNREPLIED] src=192.0.2.1 dst=203.0.113.77 sport=5060 dport=5060 mark=0 use=1',
    'tcp      6 431999 ESTABLISHED src=192.0.2.50 dst=192.0.2.1 sport=40001 dport=22 src=192.0.2.1 dst=192.0.2.50 sport=22 dport=40001 [ASSURED] mark=0 use=1',
  ].join('\n'),
  ipv6: 'tcp      6 431999 ESTABLISHED src=2001:db8:0:0::7 dst=2001:db8::1 sport=40000 dport=22 src=2001:db8::1 dst=2001:db8::7 sport=22 dport=40000 [ASSURED] mark=0 use=1',
}

/** A conntrack that lists FLOWS and answers -R and -D as `answer` says; records every call and the file -R reads. */
function fakeConntrack(answer: (argv: readonly string[], input: string) => CommandResult) {
  const calls: { argv: readonly string[]; input: string }[] = []
  const run = async (argv: readonly string[]): Promise<CommandResult> => {
    const input = argv[1] === '-R' ? readFileSync(argv[2]!, 'utf8') : ''
    calls.push({ argv: argv[1] === '-R' ? [argv[0]!, '-R', '<file>'] : argv, input })
    if (argv[1] === '-L') return { code: 0, stdout: FLOWS[argv[3]!] ?? '', stderr: '' }
    return answer(argv, input)
  }
  return { calls, run }
}

const deletedLines = (input: string) => ({ code: 0, stdout: input.replaceAll('-D', 'tcp      6 src='), stderr: '' })

test('one listing per family and one conntrack -R file of deletes for the listed banned sources, networks included', async () => {
  const { calls, run } = fakeConntrack((_argv, input) => deletedLines(input))
  assert.equal(await endFlows(run, 'conntrack', ['198.51.100.1', '198.51.100.9', '203.0.113.0/24', '2001:db8::7']), undefined)
  assert.deepEqual(calls, [
    { argv: ['conntrack', '-L', '-f', 'ipv4'], input: '' },
    { argv: ['conntrack', '-R', '<file>'], input: '-D -f ipv4 -s 198.51.100.1\n-D -f ipv4 -s 203.0.113.77\n' },
    { argv: ['conntrack', '-L', '-f', 'ipv6'], input: '' },
    { argv: ['conntrack', '-R', '<file>'], input: '-D -f ipv6 -s 2001:db8::7\n' },
  ])
})

test('no delete runs when no banned address has a flow, and no listing for a family with no ban', async () => {
  const { calls, run } = fakeConntrack(() => assert.fail('nothing to delete'))
  assert.equal(await endFlows(run, 'conntrack', ['198.51.100.200']), undefined)
  assert.deepEqual(calls.map((c) => c.argv.join(' ')), ['conntrack -L -f ipv4'])
})

test('where conntrack -R fails or deletes nothing, each source is deleted on its own; a flow already gone is no error', async () => {
  for (const batch of [{ code: 2, stdout: '', stderr: 'conntrack: invalid option -- R' }, { code: 0, stdout: '', stderr: '' }]) {
    const { calls, run } = fakeConntrack((argv) => {
      if (argv[1] === '-R') return batch
      return argv[5] === '203.0.113.77'
        ? { code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.' }
        : { code: 0, stdout: '', stderr: '' }
    })
    assert.equal(await endFlows(run, 'conntrack', ['198.51.100.1', '203.0.113.77']), undefined)
    assert.deepEqual(calls.map((c) => c.argv.join(' ')), [
      'conntrack -L -f ipv4', 'conntrack -R <file>', 'conntrack -D -f ipv4 -s 198.51.100.1', 'conntrack -D -f ipv4 -s 203.0.113.77',
    ])
  }
})

test('a failing delete or listing is a warning naming conntrack\'s message', async () => {
  const { run } = fakeConntrack((argv) => (argv[1] === '-R'
    ? { code: 1, stdout: '', stderr: 'conntrack: Operation not permitted' }
    : { code: 1, stdout: '', stderr: 'conntrack v1.4.7: Operation failed: Operation not permitted' }))
  assert.equal(await endFlows(run, 'conntrack', ['198.51.100.1']), 'ending flows failed: conntrack v1.4.7: Operation failed: Operation not permitted')
  const broken = async () => ({ code: 1, stdout: '', stderr: 'conntrack: no such table' })
  assert.equal(await endFlows(broken, 'conntrack', ['2001:db8::7']), 'ending flows failed: conntrack: no such table')
})
