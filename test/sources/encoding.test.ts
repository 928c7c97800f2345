import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { lineTranscoder } from '../../src/sources/encoding.js'

describe('lineTranscoder', () => {
  test('auto and utf-8 pass lines through untouched', () => {
    assert.equal(lineTranscoder('auto'), undefined)
    assert.equal(lineTranscoder('UTF-8'), undefined)
    assert.equal(lineTranscoder('utf_8'), undefined)
  })

  test('latin-1 maps every byte to its own code point, 0x80-0x9f included', () => {
    const transcode = lineTranscoder('latin-1')!
    assert.deepEqual(transcode(Buffer.from([0xe9, 0x85])), Buffer.from('\u00e9\u0085', 'utf8'))
  })

  test('Python spellings of other encodings reach TextDecoder', () => {
    assert.deepEqual(lineTranscoder('iso8859_15')!(Buffer.from([0xa4])), Buffer.from('€', 'utf8'))
    assert.deepEqual(lineTranscoder('cp1251')!(Buffer.from([0xc0])), Buffer.from('А', 'utf8'))
  })

  test('rejects unknown encodings and UTF-16', () => {
    assert.throws(() => lineTranscoder('klingon'), /not an encoding/)
    assert.throws(() => lineTranscoder('utf-16le'), /not supported/)
  })
})
