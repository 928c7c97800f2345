import { test } from 'node:test'
import assert from 'node:assert/strict'
import { canonicalAddress, contains, isCanonicalIpv4, overlaps, parseAddress } from '../../../schemas/events/address.js'

test('writes IPv6 in its RFC 5952 form', () => {
  assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1')
  assert.equal(canonicalAddress('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1')
  assert.equal(canonicalAddress('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1')
  assert.equal(canonicalAddress('::'), '::')
})

test('reads an IPv4-mapped IPv6 address as IPv4', () => {
  assert.equal(canonicalAddress('::ffff:192.0.2.1'), '192.0.2.1')
})

test('clears host bits of a CIDR network', () => {
  assert.equal(canonicalAddress('192.0.2.77/24'), '192.0.2.0/24')
  assert.equal(canonicalAddress('2001:db8:1:2:3::/64'), '2001:db8:1:2::/64')
})

test('rejects what is no address', () => {
  for (const text of ['', 'host.example', '256.1.1.1', '01.2.3.4', '1.2.3.00', '1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.', '1.2.3.4x',
    '1.2.3.4/33', '1.2.3.4/', '1::2::3', '2001:db8::/129', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3.256']) {
    assert.equal(parseAddress(text), null, text)
  }
})

test('knows which networks hold which addresses', () => {
  const net = parseAddress('10.0.0.0/8')!
  assert.equal(contains(net, parseAddress('10.1.2.3')!), true)
  assert.equal(contains(net, parseAddress('11.1.2.3')!), false)
  assert.equal(contains(net, parseAddress('::ffff:10.1.2.3')!), true)
  assert.equal(overlaps(parseAddress('10.1.2.3')!, net), true)
})

test('compares a prefix that ends inside a byte bit by bit, and every full-length one exactly', () => {
  const cases: [string, string, boolean][] = [
    ['192.0.2.0/23', '192.0.3.255', true], ['192.0.2.0/23', '192.0.4.0', false], ['192.0.2.0/23', '192.0.2.0/24', true],
    ['192.0.2.0/24', '192.0.2.0/23', false], ['192.0.2.7', '192.0.2.7', true], ['192.0.2.7', '192.0.2.6', false],
    ['0.0.0.0/0', '203.0.113.9', true], ['128.0.0.0/1', '127.255.255.255', false],
    ['2001:db8:a:b::/63', '2001:db8:a:a:ffff::1', true], ['2001:db8:a:b::/63', '2001:db8:a:c::1', false],
    ['2001:db8:a:b::/64', '2001:db8:a:b:1::/80', true], ['2001:db8::1', '2001:db8::1', true], ['2001:db8::1', '2001:db8::2', false],
    ['10.0.0.0/8', '2001:db8::1', false],
  ]
  for (const [outer, inner, held] of cases) assert.equal(contains(parseAddress(outer)!, parseAddress(inner)!), held, `${outer} holds ${inner}`)
})

test('tells an IPv4 address in its canonical text without parsing, and nothing else', () => {
  for (const text of ['192.0.2.1', '0.0.0.0', '255.255.255.255', '10.0.0.10']) {
    assert.equal(isCanonicalIpv4(text), true, text)
    assert.equal(canonicalAddress(text), text)
  }
  for (const text of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.00', '256.1.1.1', '1.2.3.1000', '1.2.3.4/32', '192.0.2.0/24',
    '1..2.3', '.1.2.3', '1.2.3.', ' 1.2.3.4', '::ffff:1.2.3.4', '1.2.3.4x']) {
    assert.equal(isCanonicalIpv4(text), false, text)
  }
})
