import assert from 'node:assert/strict'
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { FileTail, type FileTailConfig } from '../../src/sources/file-tail.js'
import { JsonFilePositionStore } from '../../src/sources/position-store.js'
import { collector, waitFor } from './wait-for.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banstream-file-tail-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const running: FileTail[] = []
async function startTail(config: Partial<FileTailConfig> & Pick<FileTailConfig, 'paths'>) {
  const sink = collector()
  const notes: string[] = []
  const tail = new FileTail({ poll_interval_ms: 50, rotate_wait_ms: 0, host: 'h1', log: (_level, message) => notes.push(message), ...config })
  running.push(tail)
  await tail.start(sink.emit)
  return { tail, sink, notes }
}
after(async () => {
  for (const tail of running) await tail.stop()
})

describe('FileTail', () => {
  test('reads a file from its head and then the lines appended to it', async () => {
    const path = join(dir, 'append.log')
    await writeFile(path, 'one\ntwo\n')
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 2, 'the existing lines')
    await appendFile(path, 'three\n')
    await waitFor(() => sink.lines().length === 3, 'the appended line')
    assert.deepEqual(sink.lines(), ['one', 'two', 'three'])
    assert.equal(sink.batches[0]!.stream, path)
    assert.equal(sink.batches[0]!.host, 'h1')
  })

  test('lines a file held at start are marked backlog; lines appended later are live', async () => {
    const path = join(dir, 'backlog.log')
    await writeFile(path, 'old1\nold2\n')
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 2, 'the existing lines')
    await appendFile(path, 'new\n')
    await waitFor(() => sink.lines().length === 3, 'the appended line')
    assert.deepEqual(sink.batches.map((b) => [b.lines.map(String), b.backlog ?? false]), [[['old1', 'old2'], true], [['new'], false]])
  })

  test('tail starts at the end of a file already there, inside a line at its next line', async () => {
    const path = join(dir, 'tail.log')
    await writeFile(path, 'old\nunfinished')
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'tail' }] })
    await appendFile(path, ' rest\nnew\n')
    await waitFor(() => sink.lines().length >= 1, 'the new line')
    assert.deepEqual(sink.lines(), ['new'])
  })

  test('finishes a file rotated by rename, then reads the new one from its start', async () => {
    const path = join(dir, 'renamed.log')
    await writeFile(path, 'a1\n')
    const { tail, sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 1, 'the first line')
    await appendFile(path, 'a2\n')
    await rename(path, `${path}.1`)
    await writeFile(path, 'b1\n')
    await waitFor(() => sink.lines().length === 3, 'both files')
    assert.deepEqual(sink.lines(), ['a1', 'a2', 'b1'])
    assert.equal(tail.counters().rotations, 1)
  })

  test('with polling far off, the directory watcher alone brings appends to each of many files and a rotation', async () => {
    const sub = join(dir, 'watched')
    await mkdir(sub)
    const paths = Array.from({ length: 20 }, (_, i) => join(sub, `host${i}.log`))
    for (const path of paths) await writeFile(path, '')
    const { tail, sink } = await startTail({ paths: [{ pattern: join(sub, '*.log'), start_at: 'head' }], poll_interval_ms: 600_000 })
    for (const [i, path] of paths.entries()) await appendFile(path, `line ${i}\n`)
    await waitFor(() => sink.lines().length === 20, 'a line from every file')
    await rename(paths[3]!, `${paths[3]}.1`)
    await writeFile(paths[3]!, 'after rotation\n')
    await waitFor(() => sink.lines().length === 21, 'the rotated file')
    assert.deepEqual(sink.lines().sort(), [...paths.map((_, i) => `line ${i}`), 'after rotation'].sort())
    assert.equal(tail.counters().rotations, 1)
  })

  test('a partial last line waits for its newline', async () => {
    const path = join(dir, 'partial.log')
    await writeFile(path, 'whole\npart')
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 1, 'the whole line')
    await appendFile(path, 'ial\n')
    await waitFor(() => sink.lines().length === 2, 'the completed line')
    assert.deepEqual(sink.lines(), ['whole', 'partial'])
  })

  test('a partial last line is handed on when its file rotates', async () => {
    const path = join(dir, 'partial-rotated.log')
    await writeFile(path, 'whole\ncut short')
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 1, 'the whole line')
    await rename(path, `${path}.1`)
    await writeFile(path, 'next\n')
    await waitFor(() => sink.lines().length === 3, 'the partial line and the new file')
    assert.deepEqual(sink.lines(), ['whole', 'cut short', 'next'])
  })

  test('copytruncate: a file that shrinks is read again from its start', async () => {
    const path = join(dir, 'copytruncate.log')
    await writeFile(path, 'before truncation, a long line\n')
    const { tail, sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 1, 'the first line')
    await copyFile(path, `${path}.1`)
    await truncate(path, 0)
    await appendFile(path, 'after\n')
    await waitFor(() => sink.lines().length === 2, 'the line after truncation')
    assert.deepEqual(sink.lines(), ['before truncation, a long line', 'after'])
    assert.equal(tail.counters().truncations, 1)
  })

  test('resumes at the saved position after a restart', async () => {
    const path = join(dir, 'resume.log')
    const store = new JsonFilePositionStore(join(dir, 'positions-resume.json'))
    await writeFile(path, 'r1\nr2\n')
    const first = await startTail({ paths: [{ pattern: path, start_at: 'head' }], position_store: store })
    await waitFor(() => first.sink.lines().length === 2, 'the first run')
    await first.tail.stop()
    await appendFile(path, 'r3\n')
    const second = await startTail({
      paths: [{ pattern: path, start_at: 'head' }],
      position_store: new JsonFilePositionStore(join(dir, 'positions-resume.json')),
    })
    await waitFor(() => second.sink.lines().length === 1, 'the line written while stopped')
    assert.deepEqual(second.sink.lines(), ['r3'])
    await second.tail.stop()
    const saved = JSON.parse(await readFile(join(dir, 'positions-resume.json'), 'utf8'))
    assert.equal(saved[`file:${path}`].offset, 9)
  })

  test('transcodes latin-1 lines to UTF-8', async () => {
    const path = join(dir, 'latin1.log')
    await writeFile(path, Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a]))
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }], encoding: 'latin-1' })
    await waitFor(() => sink.lines().length === 1, 'the line')
    assert.deepEqual(sink.batches[0]!.lines[0], Buffer.from('café', 'utf8'))
  })

  test('keeps invalid UTF-8 as the bytes it is', async () => {
    const path = join(dir, 'invalid-utf8.log')
    const bytes = Buffer.from([0x66, 0xff, 0xfe, 0x6f])
    await writeFile(path, Buffer.concat([bytes, Buffer.from('\n')]))
    const { sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }] })
    await waitFor(() => sink.batches.length === 1, 'the line')
    assert.deepEqual(sink.batches[0]!.lines[0], bytes)
  })

  test('cuts a line longer than max_line_bytes and counts it', async () => {
    const path = join(dir, 'oversized.log')
    await writeFile(path, `${'x'.repeat(40)}\nshort\n`)
    const { tail, sink } = await startTail({ paths: [{ pattern: path, start_at: 'head' }], max_line_bytes: 16 })
    await waitFor(() => sink.lines().length === 2, 'both lines')
    assert.deepEqual(sink.lines(), ['x'.repeat(16), 'short'])
    assert.equal(tail.counters().oversized_lines, 1)
  })

  test('a batch its consumer refuses is read again from its first line on the next scan, the chunks after it too', async () => {
    const path = join(dir, 'refused.log')
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`)
    await writeFile(path, lines.map((line) => `${line}\n`).join(''))
    const sink = collector()
    let calls = 0
    const tail = new FileTail({
      paths: [{ pattern: path, start_at: 'head' }], poll_interval_ms: 50, rotate_wait_ms: 0, host: 'h1', log: () => undefined,
      // Chunks of a few lines each: the chunk after the refused batch is being read while it is handed over.
      read_chunk_bytes: 24,
    })
    running.push(tail)
    await tail.start(async (batch) => {
      if (++calls === 3) throw new Error('the log is full')
      await sink.emit(batch)
    })
    await waitFor(() => sink.lines().length === lines.length, 'every line')
    assert.deepEqual(sink.lines(), lines)
    assert.equal(tail.counters().emit_errors, 1)
  })

  test('a glob picks up a file created after the start', async () => {
    const globDir = join(dir, 'glob')
    await rm(globDir, { recursive: true, force: true })
    await mkdir(globDir)
    await writeFile(join(globDir, 'a.log'), 'from a\n')
    await writeFile(join(globDir, 'ignored.txt'), 'not matched\n')
    const { sink } = await startTail({ paths: [{ pattern: join(globDir, '*.log'), start_at: 'head' }] })
    await waitFor(() => sink.lines().length === 1, 'the first file')
    await writeFile(join(globDir, 'b.log'), 'from b\n')
    await waitFor(() => sink.lines().length === 2, 'the new file')
    assert.deepEqual(sink.lines(), ['from a', 'from b'])
    assert.equal(sink.batches[1]!.stream, join(globDir, 'b.log'))
  })

  test('a rotated file that the glob also matches under its new name is not read twice', async () => {
    const globDir = join(dir, 'glob-rotated')
    await mkdir(globDir)
    const path = join(globDir, 'app.log')
    await writeFile(path, 'first\n')
    const { sink } = await startTail({ paths: [{ pattern: join(globDir, 'app*'), start_at: 'head' }], rotate_wait_ms: 60000 })
    await waitFor(() => sink.lines().length === 1, 'the first line')
    await rename(path, `${path}.1`)
    await appendFile(`${path}.1`, 'late\n')
    await writeFile(path, 'new\n')
    await waitFor(() => sink.lines().length >= 3, 'the late and the new line')
    await appendFile(path, 'marker\n')
    await waitFor(() => sink.lines().includes('marker'), 'the marker')
    assert.deepEqual([...sink.lines()].sort(), ['first', 'late', 'marker', 'new'])
  })

  test('a path that does not exist yet is noted once and read from its start when it appears', async () => {
    const path = join(dir, 'later', 'app.log')
    const { sink, notes } = await startTail({ paths: [{ pattern: path, start_at: 'tail' }] })
    assert.equal(notes.filter((note) => note.includes(path)).length, 1)
    await mkdir(join(dir, 'later'))
    await writeFile(path, 'first\nsecond\n')
    await waitFor(() => sink.lines().length === 2, 'the lines of the new file')
    assert.deepEqual(sink.lines(), ['first', 'second'])
    assert.equal(notes.filter((note) => note.includes(path)).length, 1)
  })
})
