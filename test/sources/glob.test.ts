import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { expandGlob, globBase, hasMagic } from '../../src/sources/glob.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banstream-glob-'))
  await mkdir(join(dir, 'site1'))
  await mkdir(join(dir, 'site2'))
  for (const file of ['site1/access.log', 'site2/access.log', 'site2/error.log', 'site2/.hidden.log', 'site1/access.log.1']) {
    await writeFile(join(dir, file), '')
  }
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('expandGlob', () => {
  test('matches * within one segment and across directories', async () => {
    assert.deepEqual(await expandGlob(join(dir, 'site*', 'access.log')), [
      join(dir, 'site1/access.log'),
      join(dir, 'site2/access.log'),
    ])
  })

  test('does not match a leading dot with *', async () => {
    assert.deepEqual(await expandGlob(join(dir, 'site2', '*.log')), [join(dir, 'site2/access.log'), join(dir, 'site2/error.log')])
  })

  test('matches ? and character classes with ! negation', async () => {
    assert.deepEqual(await expandGlob(join(dir, 'site[!2]', 'access.lo?')), [join(dir, 'site1/access.log')])
  })

  test('a plain path names itself only when it is a file', async () => {
    assert.deepEqual(await expandGlob(join(dir, 'site1/access.log')), [join(dir, 'site1/access.log')])
    assert.deepEqual(await expandGlob(join(dir, 'site1/missing.log')), [])
    assert.deepEqual(await expandGlob(join(dir, 'site1')), [])
  })
})

describe('globBase', () => {
  test('is the directory before the first glob segment', () => {
    assert.equal(globBase('/var/log/*/access.log'), '/var/log')
    assert.equal(globBase('/var/log/auth.log'), '/var/log')
    assert.equal(hasMagic('/var/log/auth.log'), false)
  })
})
