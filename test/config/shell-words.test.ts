import assert from 'node:assert/strict'
import { test } from 'node:test'
import { shellWords } from '../../src/config/shell-words.js'

test('splits words as a shell does: quotes join, a backslash escapes a blank', () => {
  assert.deepEqual(shellWords(`MESSAGE="a b" 'c d'e f\\ g`), ['MESSAGE=a b', 'c de', 'f g'])
})

test('inside double quotes only " \\ $ ` and a new line can be escaped', () => {
  assert.deepEqual(shellWords(`"a\\"b\\n"`), ['a"b\\n'])
})

test('an empty quoted word is a word', () => {
  assert.deepEqual(shellWords(`cmd '' ""`), ['cmd', '', ''])
})

test('an unterminated quote is an error', () => {
  assert.throws(() => shellWords('"open'), /unterminated/)
  assert.throws(() => shellWords("'open"), /unterminated/)
})
