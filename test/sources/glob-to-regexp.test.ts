import assert from 'node:assert/strict'
import { test } from 'node:test'
import { globToRegExp } from '../../src/sources/glob.js'

test('a plain path matches only itself', () => {
  const re = globToRegExp('/var/log/auth.log')
  assert.ok(re.test('/var/log/auth.log'))
  assert.ok(!re.test('/var/log/authXlog'))
  assert.ok(!re.test('/var/log/auth.log.1'))
})

test('a star stays within one path segment', () => {
  const re = globToRegExp('/var/log/*.log')
  assert.ok(re.test('/var/log/mail.log'))
  assert.ok(!re.test('/var/log/nginx/access.log'))
})

test('a wildcard does not match a leading dot unless the pattern has one', () => {
  assert.ok(!globToRegExp('/var/log/*.log').test('/var/log/.hidden.log'))
  assert.ok(globToRegExp('/var/log/.*.log').test('/var/log/.hidden.log'))
})

test('classes, negated classes and question marks match one character', () => {
  const re = globToRegExp('/srv/www[0-9]/log?/[!x]*')
  assert.ok(re.test('/srv/www3/logs/access'))
  assert.ok(!re.test('/srv/wwwa/logs/access'))
  assert.ok(!re.test('/srv/www3/logs/xaccess'))
  assert.ok(!re.test('/srv/www3/log/access'))
})

test('an unclosed bracket is a literal', () => {
  assert.ok(globToRegExp('/tmp/[a.log').test('/tmp/[a.log'))
})
