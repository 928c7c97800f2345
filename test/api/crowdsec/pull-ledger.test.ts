import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { MAX_VIEWS_PER_BOUNCER } from '../../../src/api/crowdsec/bouncer-views.js'
import { PullLedger } from '../../../src/api/crowdsec/pull-ledger.js'

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-ledger-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('a pull ledger with a file keeps the last pull of each view across a restart', async (t) => {
  const path = join(tempDir(t), 'pulls.json')
  const ledger = await PullLedger.open(path)
  ledger.pulled('bouncer:a', 'all', 1000)
  ledger.pulled('bouncer:a', 'all', 2000)
  ledger.pulled('bouncer:b', 'all', 1500)
  await ledger.close()
  const reopened = await PullLedger.open(path)
  assert.equal(reopened.lastPull('bouncer:a', 'all'), 2000)
  assert.equal(reopened.lastPull('bouncer:b', 'all'), 1500)
  assert.equal(reopened.lastPull('bouncer:c', 'all'), undefined)
})

test("a view's first pull reaches the file at once, so a crash right after it forgets nothing", async (t) => {
  const path = join(tempDir(t), 'pulls.json')
  const ledger = await PullLedger.open(path)
  ledger.pulled('bouncer:a', 'all', 1000)
  for (let waited = 0; !existsSync(path) && waited < 5000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10))
  // Not closed: read as a restarted process would after a kill.
  assert.equal((await PullLedger.open(path)).lastPull('bouncer:a', 'all'), 1000)
  await ledger.close()
})

test('a pull ledger starts empty from a missing or unreadable file, and in memory without one', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'torn.json'), '{"bouncer:a": {"all": 10')
  writeFileSync(join(dir, 'odd.json'), '{"bouncer:a": {"all": "yesterday"}, "bouncer:b": {"all": 5}, "bouncer:c": 7}')
  assert.equal((await PullLedger.open(join(dir, 'missing.json'))).lastPull('bouncer:a', 'all'), undefined)
  assert.equal((await PullLedger.open(join(dir, 'torn.json'))).lastPull('bouncer:a', 'all'), undefined)
  const odd = await PullLedger.open(join(dir, 'odd.json'))
  assert.equal(odd.lastPull('bouncer:a', 'all'), undefined)
  assert.equal(odd.lastPull('bouncer:b', 'all'), 5)
  const memory = await PullLedger.open()
  memory.pulled('bouncer:a', 'all', 7)
  await memory.close()
  assert.equal(memory.lastPull('bouncer:a', 'all'), 7)
})

test("a bouncer pulling with ever new filters pushes out its own oldest views, never another bouncer's", async () => {
  const ledger = await PullLedger.open()
  ledger.pulled('bouncer:victim', 'all', 1)
  for (let i = 0; i < 10_000; i++) ledger.pulled('bouncer:noisy', `filter-${i}`, i)
  assert.equal(ledger.lastPull('bouncer:victim', 'all'), 1)
  assert.equal(ledger.lastPull('bouncer:noisy', `filter-${10_000 - MAX_VIEWS_PER_BOUNCER}`), 10_000 - MAX_VIEWS_PER_BOUNCER)
  assert.equal(ledger.lastPull('bouncer:noisy', `filter-${10_000 - MAX_VIEWS_PER_BOUNCER - 1}`), undefined)
})
