import assert from 'node:assert/strict'
import { test } from 'node:test'
import { HostResolver, type LookupFunction } from '../../src/ignore/host-resolver.js'

function counting(answers: Record<string, string[]>): { lookup: LookupFunction; calls: string[] } {
  const calls: string[] = []
  const lookup: LookupFunction = async (name) => {
    calls.push(name)
    const found = answers[name]
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' })
    return found.map((address) => ({ address }))
  }
  return { lookup, calls }
}

test('a name resolves to its addresses of both families, canonical and without duplicates', async () => {
  const { lookup } = counting({ 'mx.example.org': ['192.0.2.10', '2001:DB8:0:0::10', '192.0.2.10', '::ffff:192.0.2.11'] })
  const resolution = await new HostResolver({ lookup }).resolve('mx.example.org')
  assert.deepEqual(resolution, { name: 'mx.example.org', addresses: ['192.0.2.10', '2001:db8::10', '192.0.2.11'] })
})

test('an unresolvable name is reported with the reason, not thrown', async () => {
  const { lookup } = counting({})
  const resolution = await new HostResolver({ lookup }).resolve('nowhere.invalid')
  assert.deepEqual(resolution.addresses, [])
  assert.match(resolution.error ?? '', /ENOTFOUND nowhere\.invalid/)
})

test('an answer is cached for the TTL, then asked again', async () => {
  let now = 1000
  const { lookup, calls } = counting({ 'a.example.org': ['192.0.2.1'] })
  const resolver = new HostResolver({ lookup, ttl_secs: 300, now: () => now })
  await resolver.resolve('a.example.org')
  await resolver.resolve('A.example.org')
  assert.equal(calls.length, 1)
  now += 301
  await resolver.resolve('a.example.org')
  assert.equal(calls.length, 2)
})

test('a failed name is cached too, so a broken resolver is not asked again within the TTL', async () => {
  const { lookup, calls } = counting({})
  const resolver = new HostResolver({ lookup, now: () => 0 })
  await resolver.resolve('nowhere.invalid')
  const again = await resolver.resolve('nowhere.invalid')
  assert.equal(calls.length, 1)
  assert.ok(again.error)
})

test('concurrent requests for one name share one lookup', async () => {
  const { lookup, calls } = counting({ 'a.example.org': ['192.0.2.1'] })
  const resolver = new HostResolver({ lookup })
  const [a, b] = await Promise.all([resolver.resolve('a.example.org'), resolver.resolve('a.example.org')])
  assert.equal(calls.length, 1)
  assert.deepEqual(a, b)
})

test('a lookup that never answers is reported as a timeout', async () => {
  const resolver = new HostResolver({ lookup: () => new Promise(() => {}), timeout_ms: 20 })
  const resolution = await resolver.resolve('slow.example.org')
  assert.deepEqual(resolution.addresses, [])
  assert.match(resolution.error ?? '', /no answer within 20 ms/)
})

test('a lookup answering only with text that is no address gives no address', async () => {
  const resolution = await new HostResolver({ lookup: async () => [{ address: 'garbage' }] }).resolve('odd.example.org')
  assert.deepEqual(resolution, { name: 'odd.example.org', addresses: [], error: 'no address' })
})

test('localhost resolves with the system resolver to a loopback address', async () => {
  const resolution = await new HostResolver().resolve('localhost')
  assert.ok(resolution.addresses.some((a) => a === '::1' || a.startsWith('127.')), JSON.stringify(resolution))
})
