import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { LineCursor, lineBlocks, readLineBlocks } from '../../src/cli/read-lines.js'

async function linesOf(blocks: AsyncIterable<Buffer>): Promise<string[]> {
  const lines: string[] = []
  for await (const block of blocks) {
    const cursor = new LineCursor(block)
    for (let line = cursor.next(); line !== undefined; line = cursor.next()) lines.push(line.toString('latin1'))
  }
  return lines
}

async function* chunked(text: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0
  for (const cut of [...cuts, text.length]) {
    // Each chunk a Buffer of its own, as a stream gives them.
    yield Buffer.from(text.subarray(at, cut))
    at = cut
  }
}

/** What the lines of a text are, by definition: split at LF, one CR before it dropped, no line after a final LF. */
function expectedLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  if (text.endsWith('\n')) lines.pop()
  return lines
}

test('a log is read as its lines, without LF or CRLF, with a final line that has no newline', async () => {
  const text = 'Aug 14 11:50:01 mx1 sshd[100]: Failed password for root from 192.0.2.10\r\n\nlast line'
  assert.deepEqual(await linesOf(lineBlocks(chunked(Buffer.from(text), []))), ['Aug 14 11:50:01 mx1 sshd[100]: Failed password for root from 192.0.2.10', '', 'last line'])
})

test('lines are the same however the file arrives in chunks: cut inside a line, inside CRLF, or a line longer than many chunks', async () => {
  let seed = 7
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const pieces = ['a', 'b', '\n', '\r\n', '\r', 'é', 'x'.repeat(300)]
  for (let round = 0; round < 300; round++) {
    let text = ''
    for (let i = random(40); i > 0; i--) text += pieces[random(pieces.length)]
    const bytes = Buffer.from(text, 'latin1')
    const cuts = [...new Set(Array.from({ length: random(12) }, () => random(bytes.length + 1)))].sort((a, b) => a - b)
    assert.deepEqual(await linesOf(lineBlocks(chunked(bytes, cuts))), expectedLines(text), `text ${JSON.stringify(text)} cut at ${cuts}`)
  }
})

test('invalid UTF-8 and NUL bytes reach the reader as they are', async () => {
  const bytes = Buffer.from([0x66, 0xff, 0x00, 0x0a, 0xc3, 0x28, 0x0a])
  const dir = mkdtempSync(join(tmpdir(), 'banstream-lines-'))
  writeFileSync(join(dir, 'bytes.log'), bytes)
  const lines: Buffer[] = []
  for await (const block of readLineBlocks(join(dir, 'bytes.log'))) {
    const cursor = new LineCursor(block)
    for (let line = cursor.next(); line !== undefined; line = cursor.next()) lines.push(Buffer.from(line))
  }
  assert.deepEqual(lines, [Buffer.from([0x66, 0xff, 0x00]), Buffer.from([0xc3, 0x28])])
})

test('a file larger than one read is read whole, the line across the read boundary included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-lines-'))
  const line = 'Aug 14 11:50:01 mx1 sshd[100]: Failed password for root from 192.0.2.10 port 5000 ssh2'
  const count = Math.ceil((3 << 20) / (line.length + 1))
  writeFileSync(join(dir, 'big.log'), Array.from({ length: count }, (_, i) => `${line} ${i}\n`).join(''))
  const lines = await linesOf(readLineBlocks(join(dir, 'big.log')))
  assert.equal(lines.length, count)
  lines.forEach((l, i) => assert.equal(l, `${line} ${i}`))
})
