import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { JsonFilePositionStore } from '../../src/sources/position-store.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banstream-positions-'))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('JsonFilePositionStore', () => {
  test('a new store over the same file loads what the last save stored', async () => {
    const path = join(dir, 'state', 'positions.json')
    const store = new JsonFilePositionStore(path)
    await Promise.all([store.save('file:/a', { offset: 1 }), store.save('file:/a', { offset: 2 }), store.save('journald', { cursor: 'c' })])
    const reopened = new JsonFilePositionStore(path)
    assert.deepEqual(await reopened.load('file:/a'), { offset: 2 })
    assert.deepEqual(await reopened.load('journald'), { cursor: 'c' })
    assert.equal(await reopened.load('missing'), undefined)
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8'))['file:/a'], { offset: 2 })
    assert.deepEqual(await readdir(join(dir, 'state')), ['positions.json'])
  })
})
