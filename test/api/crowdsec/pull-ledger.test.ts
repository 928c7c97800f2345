import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { PullLedger } from '../../../src/api/crowdsec/pull-ledger.js'

test('a pull ledger with a file keeps the last pull of each view across a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-ledger-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'pulls.json')
  const ledger = await PullLedger.open(path)
  ledger.pulled('bouncer:a\u0000{}', 1000)
  ledger.pulled('bouncer:a\u0000{}', 2000)
  ledger.pulled('bouncer:b\u0000{}', 1500)
  await ledger.close()
  const reopened = await PullLedger.open(path)
  assert.equal(reopened.lastPull('bouncer:a\u0000{}'), 2000)
  assert.equal(reopened.lastPull('bouncer:b\u0000{}'), 1500)
  assert.equal(reopened.lastPull('bouncer:c\u0000{}'), undefined)
})

test('a pull ledger starts empty from a missing or unreadable file, and in memory without one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-ledger-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'torn.json'), '{"bouncer:a\\u0000{}": 10')
  writeFileSync(join(dir, 'odd.json'), '{"bouncer:a": "yesterday", "bouncer:b": 5}')
  assert.equal((await PullLedger.open(join(dir, 'missing.json'))).lastPull('bouncer:a\u0000{}'), undefined)
  assert.equal((await PullLedger.open(join(dir, 'torn.json'))).lastPull('bouncer:a\u0000{}'), undefined)
  const odd = await PullLedger.open(join(dir, 'odd.json'))
  assert.equal(odd.lastPull('bouncer:a'), undefined)
  assert.equal(odd.lastPull('bouncer:b'), 5)
  const memory = await PullLedger.open()
  memory.pulled('bouncer:a', 7)
  await memory.close()
  assert.equal(memory.lastPull('bouncer:a'), 7)
})

test('a pull ledger holds at most 4096 views, forgetting the one that pulled least recently', async () => {
  const ledger = await PullLedger.open()
  for (let i = 0; i <= 4096; i++) ledger.pulled(`view-${i}`, i)
  ledger.pulled('view-1', 5000)
  ledger.pulled('view-4097', 5001)
  assert.equal(ledger.lastPull('view-0'), undefined)
  assert.equal(ledger.lastPull('view-2'), undefined)
  assert.equal(ledger.lastPull('view-1'), 5000)
  assert.equal(ledger.lastPull('view-4096'), 4096)
})
