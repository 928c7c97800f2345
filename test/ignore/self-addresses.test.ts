import assert from 'node:assert/strict'
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { test } from 'node:test'
import { canonicalAddress } from '../../schemas/events/address.js'
import { HostResolver } from '../../src/ignore/host-resolver.js'
import { selfAddresses } from '../../src/ignore/self-addresses.js'

const iface = (address: string, family: 'IPv4' | 'IPv6'): NetworkInterfaceInfo =>
  ({ address, family, netmask: '', mac: '00:00:00:00:00:00', internal: false, cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo

const resolver = (answers: Record<string, string[]>) => new HostResolver({
  lookup: async (name) => {
    const found = answers[name]
    if (!found) throw new Error(`getaddrinfo ENOTFOUND ${name}`)
    return found.map((address) => ({ address }))
  },
})

test('the loopback network, every interface address and what the host names resolve to', async () => {
  const addresses = await selfAddresses({
    interfaces: () => ({ eth0: [iface('198.51.100.7', 'IPv4'), iface('2001:db8:0:0:0:0:0:7', 'IPv6'), iface('fe80::1%eth0', 'IPv6')] }),
    hostname: () => 'mail1',
    resolver: resolver({ localhost: ['127.0.0.1', '::1'], mail1: ['203.0.113.5'] }),
  })
  assert.deepEqual(new Set(addresses), new Set(['127.0.0.0/8', '::1', '198.51.100.7', '2001:db8::7', 'fe80::1', '127.0.0.1', '203.0.113.5']))
})

test('a host name that does not resolve is a warning, and the rest still counts', async () => {
  const warnings: string[] = []
  const addresses = await selfAddresses({
    interfaces: () => ({}),
    hostname: () => 'lonely',
    resolver: resolver({ localhost: ['127.0.0.1'] }),
    warn: (msg) => warnings.push(msg),
  })
  assert.ok(addresses.includes('127.0.0.0/8'))
  assert.equal(warnings.length, 1)
  assert.match(warnings[0]!, /lonely.*ENOTFOUND/)
})

test('on this machine: loopback and every address of its interfaces', async () => {
  const addresses = new Set(await selfAddresses())
  assert.ok(addresses.has('127.0.0.0/8') && addresses.has('::1'))
  for (const infos of Object.values(networkInterfaces())) {
    for (const info of infos ?? []) assert.ok(addresses.has(canonicalAddress(info.address.replace(/%.*$/, ''))!), info.address)
  }
})
