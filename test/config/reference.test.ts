import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import { parseReference, parseReferenceList } from '../../src/config/reference.js'

test('a bare name has no arguments', () => {
  assert.deepEqual(parseReference('sshd'), { name: 'sshd', args: {} })
})

test('reads unquoted, double- and single-quoted arguments', () => {
  assert.deepEqual(parseReference(`iptables-multiport[name=SSH, port="ssh,sftp", protocol='tcp']`), {
    name: 'iptables-multiport',
    args: { name: 'SSH', port: 'ssh,sftp', protocol: 'tcp' },
  })
})

test('quoted values may hold brackets and commas', () => {
  assert.deepEqual(parseReference('sendmail-reject[mta_dname="[^,]+"]'), { name: 'sendmail-reject', args: { mta_dname: '[^,]+' } })
})

test('reads several argument groups name[a=1][b=2]', () => {
  assert.deepEqual(parseReference(`a[x='1]2'][y=3]`), { name: 'a', args: { x: '1]2', y: '3' } })
})

test('an empty reference is an error', () => {
  assert.throws(() => parseReference('[mode=x]'), ConfigError)
})

test('a list has one reference per line and skips empty lines', () => {
  assert.deepEqual(parseReferenceList('nftables[port="ssh", protocol=tcp]\n\nabuseipdb[abuseipdb_category="18,22"]'), [
    { name: 'nftables', args: { port: 'ssh', protocol: 'tcp' } },
    { name: 'abuseipdb', args: { abuseipdb_category: '18,22' } },
  ])
})

test('arguments of one list entry may span lines', () => {
  assert.deepEqual(parseReferenceList('mail[a=1,\nb=2]\nother'), [
    { name: 'mail', args: { a: '1', b: '2' } },
    { name: 'other', args: {} },
  ])
})
