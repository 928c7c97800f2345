import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError } from '../../src/config/errors.js'
import { parseIni } from '../../src/config/ini-parser.js'

const section = (text: string, name: string) => Object.fromEntries(parseIni(text, 'x.conf').sections.get(name) ?? [])

test('reads key = value and key: value, splitting at the first delimiter', () => {
  assert.deepEqual(section('[s]\na = 1\nb: two = 2\nc=x:y\n', 's'), { a: '1', b: 'two = 2', c: 'x:y' })
})

test('lower-cases option names and keeps section names as written', () => {
  const doc = parseIni('[Definition]\nFailRegex = x\n', 'x.conf')
  assert.deepEqual(Object.fromEntries(doc.sections.get('Definition') ?? []), { failregex: 'x' })
})

test('skips full-line # and ; comments, also indented ones', () => {
  assert.deepEqual(section('# top\n[s]\n; c\na = 1\n   # note\n', 's'), { a: '1' })
})

test('strips an inline ; comment only after whitespace, never an inline #', () => {
  assert.deepEqual(section('[s]\na = 1 ; note\nb = x;y\nc = 2 # kept\n', 's'), { a: '1', b: 'x;y', c: '2 # kept' })
})

test('joins indented continuation lines with newlines, stripped', () => {
  assert.deepEqual(section('[s]\nfailregex = ^a$\n            ^b$\n\t^c$\nnext = 1\n', 's'), { failregex: '^a$\n^b$\n^c$', next: '1' })
})

test('keeps blank lines inside a multi-line value and drops trailing ones', () => {
  assert.deepEqual(section('[s]\na = 1\n\n  2\n\n\nb = 3\n', 's'), { a: '1\n\n2', b: '3' })
})

test('a comment line inside a multi-line value neither ends it nor adds a line', () => {
  assert.deepEqual(section('[s]\na = 1\n# c\n  2\n', 's'), { a: '1\n2' })
})

test('an empty value is an empty string', () => {
  assert.deepEqual(section('[s]\nignoreregex =\n', 's'), { ignoreregex: '' })
})

test('[DEFAULT] options go to the defaults, not to a section', () => {
  const doc = parseIni('[DEFAULT]\na = 1\n[s]\nb = 2\n', 'x.conf')
  assert.deepEqual(Object.fromEntries(doc.defaults), { a: '1' })
  assert.deepEqual([...doc.sections.keys()], ['s'])
})

test('a section repeated in one file is an error naming the file', () => {
  assert.throws(() => parseIni('[s]\na = 1\n[s]\nb = 2\n', 'dup.conf'), (err: unknown) =>
    err instanceof ConfigError && err.file === 'dup.conf' && /section \[s\] already exists/.test(err.message))
})

test('an option repeated in one section is an error', () => {
  assert.throws(() => parseIni('[s]\na = 1\nA = 2\n', 'dup.conf'), /option 'a' in section \[s\] already exists/)
})

test('an option before any section is an error', () => {
  assert.throws(() => parseIni('a = 1\n', 'x.conf'), ConfigError)
})

test('a line with no delimiter is an error', () => {
  assert.throws(() => parseIni('[s]\njust words\n', 'x.conf'), /cannot parse/)
})

test('reads CRLF line endings', () => {
  assert.deepEqual(section('[s]\r\na = 1\r\n  2\r\n', 's'), { a: '1\n2' })
})
