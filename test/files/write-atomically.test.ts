import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeAtomically } from '../../src/files/write-atomically.js'

async function inTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-write-'))
  try {
    await body(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

test('text written in pieces reads back whole, across buffer flushes, multi-byte characters and pieces larger than the buffer', async () => {
  await inTempDir(async (dir) => {
    const pieces: string[] = []
    // ~7 MiB of pieces with two- to four-byte characters, then one 2 MiB piece, then small ones again.
    for (let i = 0; i < 60_000; i++) pieces.push(`{"ip":"192.0.2.${i % 256}","user":"ü€𝔘-${i}"},`)
    for (let i = 0; i < 1000; i++) pieces.push('€'.repeat(1000 + i))
    pieces.push('x'.repeat(2 << 20))
    for (let i = 0; i < 1000; i++) pieces.push(`é${i}`)
    const path = join(dir, 'state.json')
    await writeAtomically(path, pieces)
    assert.equal(await readFile(path, 'utf8'), pieces.join(''))
    assert.deepEqual(await readdir(dir), ['state.json'], 'the temporary file is renamed over the path')
  })
})

test('a new write replaces the file whole, and an empty sequence of pieces leaves an empty file', async () => {
  await inTempDir(async (dir) => {
    const path = join(dir, 'positions.json')
    await writeAtomically(path, 'first version, longer than the second\n')
    await writeAtomically(path, ['second', '\n'])
    assert.equal(await readFile(path, 'utf8'), 'second\n')
    await writeAtomically(path, [])
    assert.equal(await readFile(path, 'utf8'), '')
  })
})
