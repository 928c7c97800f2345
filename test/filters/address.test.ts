import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseAddress } from '../../src/filters/address.js'

test('a dotted quad is an IPv4 address', () => {
  assert.deepEqual(parseAddress('194.117.26.69'), { ip: '194.117.26.69', family: 4 })
})

test('an IPv4-mapped IPv6 address is the IPv4 address', () => {
  assert.deepEqual(parseAddress('::ffff:10.171.161.151'), { ip: '10.171.161.151', family: 4 })
  assert.deepEqual(parseAddress('::FFFF:192.0.2.3'), { ip: '192.0.2.3', family: 4 })
  assert.deepEqual(parseAddress('::ffff:7f00:1'), { ip: '127.0.0.1', family: 4 })
})

test('every dotted quad reads the same as through the general IPv6 path: itself when canonical, else nothing', () => {
  for (const parts of [['0', '0', '0', '0'], ['255', '255', '255', '255'], ['10', '0', '0', '1'], ['256', '1', '1', '1'], ['00', '1', '1', '1'], ['1', '01', '1', '1'], ['1', '1', '1', '1000']]) {
    const quad = parts.join('.')
    const mapped = parseAddress(`::ffff:${quad}`)
    assert.deepEqual(parseAddress(quad), mapped === null ? null : { ip: quad, family: 4 }, quad)
  }
})

test('IPv4 forms that inet_aton would reinterpret are refused', () => {
  for (const text of ['012.1.2.3', '192.030.0.6', '0x7f.1', '127.1', '999.999.999.999', '1.2.3', '1.2.3.4.5', '1.2.3.']) {
    assert.equal(parseAddress(text), null, text)
  }
})

test('IPv6 is written in RFC 5952 form', () => {
  assert.deepEqual(parseAddress('2001:DB8:0:0:1:0:0:1'), { ip: '2001:db8::1:0:0:1', family: 6 })
  assert.deepEqual(parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001'), { ip: '2001:db8::1', family: 6 })
  assert.deepEqual(parseAddress('2001:db8:0:1:1:1:1:1'), { ip: '2001:db8:0:1:1:1:1:1', family: 6 })
  assert.deepEqual(parseAddress('0:0:0:0:0:0:0:0'), { ip: '::', family: 6 })
  assert.deepEqual(parseAddress('aaaa:bbbb:cccc:1234::1:1'), { ip: 'aaaa:bbbb:cccc:1234::1:1', family: 6 })
  assert.deepEqual(parseAddress('::1.2.3.4'), { ip: '::102:304', family: 6 })
})

test('a zone index is dropped', () => {
  assert.deepEqual(parseAddress('fe80::1%eth0'), { ip: 'fe80::1', family: 6 })
  assert.equal(parseAddress('fe80::1%'), null)
  assert.equal(parseAddress('1.2.3.4%eth0'), null)
})

test('brackets and a port around IPv6 are removed', () => {
  assert.deepEqual(parseAddress('[2001:db8::1]:5060'), { ip: '2001:db8::1', family: 6 })
  assert.deepEqual(parseAddress('[2001:db8::1]'), { ip: '2001:db8::1', family: 6 })
  assert.equal(parseAddress('[2001:db8::1]:99999'), null)
  assert.equal(parseAddress('[2001:db8::1'), null)
})

test('a prefix gives a network with its host bits cleared', () => {
  assert.deepEqual(parseAddress('1.2.3.4/24'), { ip: '1.2.3.0', family: 4, prefix: 24 })
  assert.deepEqual(parseAddress('2001:db8::/64'), { ip: '2001:db8::', family: 6, prefix: 64 })
  assert.deepEqual(parseAddress('2001:db8::ff/120'), { ip: '2001:db8::', family: 6, prefix: 120 })
  assert.deepEqual(parseAddress('[2001:db8::1/64]'), { ip: '2001:db8::', family: 6, prefix: 64 })
})

test('a full-length prefix is a single address', () => {
  assert.deepEqual(parseAddress('1.2.3.4/32'), { ip: '1.2.3.4', family: 4 })
  assert.deepEqual(parseAddress('2001:db8::1/128'), { ip: '2001:db8::1', family: 6 })
})

test('a mapped address with a prefix stays an IPv6 network, as in fail2ban', () => {
  assert.deepEqual(parseAddress('::ffff:1.2.3.4/120'), { ip: '::ffff:102:300', family: 6, prefix: 120 })
})

test('out-of-range or malformed prefixes are refused', () => {
  for (const text of ['1.2.3.4/33', '2001:db8::/129', '1.2.3.4/', '1.2.3.4/x', '1.2.3.4/24/8', '1.2.3.4/255.255.255.0']) {
    assert.equal(parseAddress(text), null, text)
  }
})

test('host names and attacker text are not addresses', () => {
  for (const text of ['example.com', '', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', '1.2.3.4;rm -rf /', '::ffff:1.2.3.4x', '1::2::3', 'localhost']) {
    assert.equal(parseAddress(text), null, JSON.stringify(text))
  }
})
