import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseAddress } from '../../schemas/events/address.js'
import type { JailConfig } from '../../src/config/jail-config.js'
import { jailPolicyOptions } from '../../src/config/jail-policy.js'
import { HostResolver } from '../../src/ignore/host-resolver.js'
import { resolveJailPolicies } from '../../src/ignore/resolve-policies.js'
import { touchesIgnored } from '../../streams/decide-ignore.js'
import type { JailPolicy } from '../../streams/decide-policy.js'

function settings(name: string, options: Record<string, string>) {
  const jail: JailConfig = { name, enabled: true, options, actions: [], logpath: [] }
  return jailPolicyOptions(jail)
}

function lookupCounting(answers: Record<string, string[]>) {
  const calls: string[] = []
  const resolver = new HostResolver({
    lookup: async (name) => {
      calls.push(name)
      const found = answers[name]
      if (!found) throw new Error(`getaddrinfo ENOTFOUND ${name}`)
      return found.map((address) => ({ address }))
    },
  })
  return { resolver, calls }
}

const ignores = (policy: JailPolicy, ip: string) => touchesIgnored(policy.ignore, parseAddress(ip)!)
const noSelf = async () => [] as string[]

test('ignoreip host names are resolved and ignored with the listed addresses', async () => {
  const { resolver } = lookupCounting({ 'backup.example.org': ['192.0.2.20', '2001:db8::20'] })
  const [policy] = await resolveJailPolicies([settings('sshd', { ignoreip: '198.51.100.0/24 backup.example.org', ignoreself: 'false' })],
    { resolver, self: noSelf, warn: assert.fail })
  assert.ok(ignores(policy!, '198.51.100.9'))
  assert.ok(ignores(policy!, '192.0.2.20'))
  assert.ok(ignores(policy!, '2001:db8::20'))
  assert.ok(!ignores(policy!, '192.0.2.21'))
})

test('a host name that does not resolve is a warning naming jail and name; the jail runs without it', async () => {
  const { resolver } = lookupCounting({})
  const warnings: string[] = []
  const [policy] = await resolveJailPolicies([settings('sshd', { ignoreip: '192.0.2.1 gone.example.org', ignoreself: 'no' })],
    { resolver, self: noSelf, warn: (m) => warnings.push(m) })
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, /jail \[sshd\].*gone\.example\.org.*ENOTFOUND/)
  assert.ok(ignores(policy!, '192.0.2.1'))
})

test('ignoreself (the default) adds the host\'s own addresses; ignoreself = false does not', async () => {
  const self = async () => ['127.0.0.0/8', '::1', '203.0.113.5']
  const [on, off] = await resolveJailPolicies([settings('a', {}), settings('b', { ignoreself: 'false' })], { self, warn: assert.fail })
  assert.ok(ignores(on!, '203.0.113.5') && ignores(on!, '127.0.0.2') && ignores(on!, '::1'))
  assert.ok(!ignores(off!, '203.0.113.5') && !ignores(off!, '127.0.0.1'))
})

test('names shared by jails are looked up once, and the host\'s addresses found once', async () => {
  const { resolver, calls } = lookupCounting({ 'a.example.org': ['192.0.2.1'] })
  let selfCalls = 0
  const self = async () => { selfCalls++; return ['127.0.0.0/8'] }
  const policies = await resolveJailPolicies(
    ['x', 'y', 'z'].map((name) => settings(name, { ignoreip: 'a.example.org' })), { resolver, self, warn: assert.fail })
  assert.equal(policies.length, 3)
  assert.deepEqual(calls, ['a.example.org'])
  assert.equal(selfCalls, 1)
})

test('without ignoreself anywhere the host\'s addresses are not looked for', async () => {
  const self = async (): Promise<string[]> => assert.fail('self() was called')
  const [policy] = await resolveJailPolicies([settings('a', { ignoreself: 'false', maxretry: '3' })], { self, warn: assert.fail })
  assert.equal(policy!.max_retry, 3)
  assert.deepEqual(policy!.ignore.entries, [])
})

test('the other options reach the policy unchanged', async () => {
  const [policy] = await resolveJailPolicies([settings('a', { maxretry: '2', findtime: '1h', bantime: '-1', ignoreself: 'false' })],
    { self: noSelf, warn: assert.fail })
  assert.equal(policy!.max_retry, 2)
  assert.equal(policy!.find_time_secs, 3600)
  assert.equal(policy!.ban_time_secs, -1)
})

test('with the real resolver and host, localhost in ignoreip and ignoreself ignore the loopback', async () => {
  // The host's own name may not resolve on a test machine; that warning is not what this test is about.
  const [policy] = await resolveJailPolicies([settings('a', { ignoreip: 'localhost' })], { warn: () => {} })
  assert.ok(ignores(policy!, '127.0.0.1'))
  assert.ok(ignores(policy!, '::1'))
})
