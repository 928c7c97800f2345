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

test('finds what a naive search finds, wherever the texts begin and however they overlap', () => {
  // A small alphabet makes texts overlap and windows end alike; the seed keeps a failure reproducible.
  let seed = 7
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
  const word = (min: number, max: number) => Array.from({ length: min + random(max - min + 1) }, () => 'ab ü'[random(4)]).join('')
  for (let round = 0; round < 200; round++) {
    // Every fourth round a hundred and more texts: too many to skip, the automaton searches.
    const many = round % 4 === 0
    const texts: string[] = []
    for (let i = 0; i < (many ? 160 : 1 + random(6)); i++) {
      const t = many ? word(5, 5) : word(2, 7)
      if (!texts.some((k) => k.includes(t) || t.includes(k))) texts.push(t)
    }
    const search = new LiteralSearch(texts)
    for (let line = 0; line < 20; line++) {
      const text = word(0, 40)
      const bytes = Buffer.from(text)
      const ends = texts.map((t, i) => ({ i, at: bytes.indexOf(Buffer.from(t)) })).filter((x) => x.at >= 0)
        .map(({ i, at }) => ({ i, end: at + Buffer.byteLength(texts[i]!) })).sort((x, y) => x.end - y.end)
      const expected = ends.length === 0 ? undefined : ends.map((x) => x.i)
      assert.deepEqual(search.find(bytes), expected, `${JSON.stringify(texts)} in ${JSON.stringify(text)}`)
    }
  }
})

test('a line that makes every window a candidate still gets its answer', () => {
  // Every window of a's ends the long text's first window: each is compared, until the automaton takes over.
  const search = new LiteralSearch(['aaaab', 'a'.repeat(40) + 'c'])
  const line = 'a'.repeat(100_000)
  assert.equal(find(search, line), undefined)
  assert.deepEqual(find(search, line + 'c'), [1])
  assert.deepEqual(find(search, line + 'b' + 'a'.repeat(40) + 'c'), [0, 1])
})
