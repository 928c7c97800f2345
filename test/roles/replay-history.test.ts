import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_RETENTION } from '../../schemas/clickhouse/tables.js'
import { historyChunks } from '../../src/roles/replay-history.js'
import { replay, replayLines, type ReplayJailsOptions, type ReplayResult } from '../../src/roles/replay.js'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { migrateStore } from '../../src/store/migrate.js'
import { cliCommand } from '../cli/cli-path.js'
import { ATTACKERS, WEEK_END, WEEK_START, weekConfig, weekJails, weekLineRows, writeWeek } from './replay-week.js'

let store: ChdbStore | undefined
let dir: string
let config: string
let weekFile: string
let jailOptions: ReplayJailsOptions

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'banstream-replay-history-'))
  const opened = (store = ChdbStore.open(join(dir, 'clickhouse')))
  // Kept without a TTL: the week lies further back than the default week of lines.
  await migrateStore(opened, { ...DEFAULT_RETENTION, lines_days: 0 })
  // The week's records as the store sink keeps them, one of them delivered twice.
  const records = weekLineRows()
  const rows = records.flat()
  for (let i = 0; i < rows.length; i += 5000) await opened.insert('lines', rows.slice(i, i + 5000))
  await opened.insert('lines', records[7]!)
  weekFile = writeWeek(dir).plain
  config = weekConfig()
  jailOptions = await weekJails(config)
})
after(async () => {
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
  rmSync(config, { recursive: true, force: true })
})

// Event ids derive from where a line was read (file offset or record position), which differs between the two sources.
const withoutIds = (r: ReplayResult) => JSON.parse(JSON.stringify(r, (key, value) => (key === 'event_id' || key === 'ban_event_id' ? undefined : value))) as ReplayResult

test('the lines the history kept of a week replay to the same failures, bans and unbans as the file, a line stored twice counted once', async () => {
  const range = { from: WEEK_START, to: WEEK_END }
  const progress: { done: number; total: number }[] = []
  const fromHistory = await replayLines({ ...jailOptions, ...range, onProgress: (p) => progress.push(p) }, historyChunks(store!, range))
  const fromFile = await replay({ ...jailOptions, ...range, inputs: [{ path: weekFile, as: '/var/log/web.log' }] })
  assert.deepEqual(withoutIds(fromHistory), withoutIds(fromFile))
  assert.deepEqual(fromHistory.jails[0]!.bans.map((b) => b.ip), [ATTACKERS.burst, ATTACKERS.twice, ATTACKERS.twice, ATTACKERS.token])
  assert.equal(progress.at(-1)!.done, progress.at(-1)!.total)
})

test('a day of kept lines gives the bans of that day and reads no line received before it', async () => {
  const range = { from: WEEK_START + 4 * 86400, to: WEEK_START + 5 * 86400 }
  const fromHistory = await replayLines({ ...jailOptions, ...range }, historyChunks(store!, range))
  assert.deepEqual(fromHistory.jails[0]!.bans.map((b) => b.ip), [ATTACKERS.twice, ATTACKERS.twice])
  assert.ok(fromHistory.lines < 2 * 2880, `${fromHistory.lines} lines read`)
})

test('banstream replay --chdb reads the kept lines of an embedded history between --from and --to', { timeout: 60_000 }, async () => {
  // The CLI opens the history itself: a chDB directory takes one session at a time.
  await store!.close()
  store = undefined
  const range = ['--from', new Date(WEEK_START * 1000).toISOString(), '--to', new Date(WEEK_END * 1000).toISOString()]
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [...cliCommand(), 'replay', '--config', config, '--chdb', join(dir, 'clickhouse'), '--json', ...range], { maxBuffer: 64 << 20 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }))
  })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).jails[0].bans.map((b: { ip: string }) => b.ip), [ATTACKERS.burst, ATTACKERS.twice, ATTACKERS.twice, ATTACKERS.token])
})
