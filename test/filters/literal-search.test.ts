import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LiteralSearch } from '../../src/filters/literal-search.js'

const find = (search: LiteralSearch, text: string): number[] | undefined => search.find(Buffer.from(text))

test('names each text a string holds, once, in the order their first occurrences end', () => {
  const search = new LiteralSearch(['Failed ', 'invalid user ', 'Accepted '])
  assert.deepEqual(find(search, 'sshd[1]: Failed password for invalid user git from 192.0.2.1'), [0, 1])
  assert.deepEqual(find(search, 'Accepted Accepted Failed '), [2, 0])
  assert.equal(find(search, 'sshd[1]: Connection closed by 192.0.2.1'), undefined)
  assert.equal(find(search, ''), undefined)
})

test('a text that begins inside a partial match of another is still found (failure links)', () => {
  const search = new LiteralSearch(['aab', 'abc', 'bcd'])
  assert.deepEqual(find(search, 'aaab'), [0])
  assert.deepEqual(find(search, 'xabcd'), [1, 2])
  assert.deepEqual(find(search, 'aabcd'), [0, 1, 2])
  assert.equal(find(search, 'abab ba cb'), undefined)
})

test('texts are matched as UTF-8 bytes, and bytes no text holds never begin a match', () => {
  const search = new LiteralSearch(['Überprüfung fehlgeschlagen', 'ä'])
  assert.deepEqual(find(search, 'PAM: Überprüfung fehlgeschlagen für root'), [0])
  assert.deepEqual(search.find(Buffer.from([0xff, 0xc3, 0xa4, 0x00])), [1])
  assert.equal(search.find(Buffer.from([0xc3, 0xff, 0xa4])), undefined)
})

test('an empty text, or one that holds another, is refused', () => {
  assert.throws(() => new LiteralSearch(['x', '']), /empty text/)
  assert.throws(() => new LiteralSearch(['user ', 'invalid user ']), /"invalid user " holds "user "/)
})
