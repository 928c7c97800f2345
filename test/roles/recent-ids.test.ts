import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RecentIds } from '../../src/roles/recent-ids.js'

describe('RecentIds', () => {
  it('recognises the ids it holds and forgets the oldest beyond its capacity', () => {
    const recent = new RecentIds(3)
    for (const id of ['a', 'b', 'c', 'd']) recent.add(id)
    assert.equal(recent.has('a'), false)
    assert.deepEqual(['b', 'c', 'd'].map((id) => recent.has(id)), [true, true, true])
    assert.deepEqual(recent.list(), ['b', 'c', 'd'])
  })

  it('keeps an id added twice once, so it is not forgotten early by its copy', () => {
    const recent = new RecentIds(2)
    for (const id of ['a', 'a', 'b']) recent.add(id)
    assert.deepEqual(recent.list(), ['a', 'b'])
    recent.add('c')
    assert.deepEqual(recent.list(), ['b', 'c'])
  })

  it('lists oldest first after wrapping around, as a snapshot saves and restores it', () => {
    const recent = new RecentIds(3)
    for (let i = 0; i < 8; i++) recent.add(`id${i}`)
    assert.deepEqual(recent.list(), ['id5', 'id6', 'id7'])
    const restored = new RecentIds(3, recent.list())
    restored.add('id8')
    assert.deepEqual(restored.list(), ['id6', 'id7', 'id8'])
  })

  it('restores more saved ids than its capacity by keeping the newest', () => {
    assert.deepEqual(new RecentIds(2, ['a', 'b', 'c']).list(), ['b', 'c'])
  })
})
