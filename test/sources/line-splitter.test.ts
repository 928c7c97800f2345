import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { LineSplitter } from '../../src/sources/line-splitter.js'

const text = (lines: Buffer[]) => lines.map((line) => line.toString())

describe('LineSplitter', () => {
  test('splits at LF and drops a CR before it', () => {
    const splitter = new LineSplitter(100, () => undefined)
    assert.deepEqual(text(splitter.push(Buffer.from('a\r\nb\nc'))), ['a', 'b'])
    assert.equal(splitter.pending, 1)
  })

  test('joins a line that spans chunks', () => {
    const splitter = new LineSplitter(100, () => undefined)
    splitter.push(Buffer.from('hel'))
    splitter.push(Buffer.from('lo wo'))
    assert.deepEqual(text(splitter.push(Buffer.from('rld\n'))), ['hello world'])
    assert.equal(splitter.pending, 0)
  })

  test('cuts an oversized line across chunks once and skips its rest', () => {
    let oversized = 0
    const splitter = new LineSplitter(4, () => oversized++)
    assert.deepEqual(text(splitter.push(Buffer.from('abc'))), [])
    assert.deepEqual(text(splitter.push(Buffer.from('defgh'))), ['abcd'])
    assert.deepEqual(text(splitter.push(Buffer.from('ijk\nok\n'))), ['ok'])
    assert.equal(oversized, 1)
  })

  test('a line of exactly the limit ending in CRLF is not oversized', () => {
    let oversized = 0
    const splitter = new LineSplitter(4, () => oversized++)
    splitter.push(Buffer.from('abcd\r'))
    assert.deepEqual(text(splitter.push(Buffer.from('\n'))), ['abcd'])
    assert.equal(oversized, 0)
  })

  test('flush hands on the held partial line', () => {
    const splitter = new LineSplitter(100, () => undefined)
    splitter.push(Buffer.from('x\npartial'))
    assert.equal(splitter.flush()?.toString(), 'partial')
    assert.equal(splitter.flush(), undefined)
  })

  test('skipToNextLine drops the rest of the current line', () => {
    const splitter = new LineSplitter(100, () => undefined)
    splitter.skipToNextLine()
    assert.deepEqual(text(splitter.push(Buffer.from('rest\nnext\n'))), ['next'])
  })
})
