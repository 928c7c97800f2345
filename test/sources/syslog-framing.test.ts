import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SyslogFrameDecoder } from '../../src/sources/syslog-framing.js'

const decoder = (max = 100) => {
  const counters = { oversized: 0, bad_frames: 0 }
  return { counters, decoder: new SyslogFrameDecoder(max, counters) }
}
const text = (messages: Buffer[]) => messages.map((message) => message.toString())

describe('SyslogFrameDecoder', () => {
  test('splits newline-framed messages, holding an incomplete one', () => {
    const { decoder: d } = decoder()
    assert.deepEqual(text(d.push(Buffer.from('<13>a\n<13>b\n<13>c'))), ['<13>a', '<13>b'])
    assert.deepEqual(text(d.push(Buffer.from('c\n'))), ['<13>cc'])
  })

  test('reads octet-counted frames, a newline inside the message included, across chunks', () => {
    const { decoder: d } = decoder()
    assert.deepEqual(text(d.push(Buffer.from('7 <13>a\nb9 <13>'))), ['<13>a\nb'])
    assert.deepEqual(text(d.push(Buffer.from('hello'))), ['<13>hello'])
  })

  test('decides the framing frame by frame', () => {
    const { decoder: d } = decoder()
    assert.deepEqual(text(d.push(Buffer.from('5 <13>x<13>y\n5 <13>z'))), ['<13>x', '<13>y', '<13>z'])
  })

  test('cuts oversized frames of either kind and skips their rest', () => {
    const { decoder: d, counters } = decoder(4)
    assert.deepEqual(text(d.push(Buffer.from('10 0123456789<13>abcdef\nok\n'))), ['0123', '<13>', 'ok'])
    assert.equal(counters.oversized, 2)
  })

  test('counts a zero-length frame and an octet-counted frame cut by the end of the connection', () => {
    const { decoder: d, counters } = decoder()
    assert.deepEqual(text(d.push(Buffer.from('0 5 <13>a20 <13>short'))), ['<13>a'])
    assert.equal(d.end(), undefined)
    assert.equal(counters.bad_frames, 2)
  })

  test('puts together frames of either kind trickled a byte at a time', () => {
    const { decoder: d, counters } = decoder(8)
    const out: Buffer[] = []
    for (const byte of Buffer.from('<13>abc\n6 <13>de<13>toolongline\n<13>end')) out.push(...d.push(Buffer.from([byte])))
    assert.deepEqual(text(out), ['<13>abc', '<13>de', '<13>tool'])
    assert.equal(counters.oversized, 1)
    assert.equal(d.end()?.toString(), '<13>end')
  })

  test('hands on an unterminated newline-framed message when the connection ends', () => {
    const { decoder: d } = decoder()
    d.push(Buffer.from('<13>last words'))
    assert.equal(d.end()?.toString(), '<13>last words')
  })
})
