import assert from 'node:assert/strict'
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { RunRole } from '../../src/roles/run.js'
import { sshdFailure, tempDir, waitFor, writeTestConfig } from './run-test-kit.js'

test('banstream run replays its own lines topic and the files of its replay directory over the API', { timeout: 60_000 }, async (t) => {
  const work = tempDir('banstream-run-replay-')
  t.after(() => rmSync(work, { recursive: true, force: true }))
  const logPath = join(work, 'auth.log')
  writeFileSync(logPath, '')
  const archive = join(work, 'archive')
  mkdirSync(archive)
  const started = Date.now()
  writeFileSync(join(archive, 'auth.log.1'), [0, 1, 2].map((i) => `${sshdFailure(started - 3600_000 + i * 1000, '198.51.100.9', 100 + i)}\n`).join(''))
  const role = await RunRole.start({
    configDir: writeTestConfig(join(work, 'config'), logPath, [{ name: 'sshd', maxRetry: 3, findTimeSecs: 600, banTimeSecs: 60 }]),
    dataDir: join(work, 'data'),
    control: { port: 0 },
    fsync: 'never',
    note: () => undefined,
    replayDirs: [archive],
  })
  t.after(() => role.stop())
  appendFileSync(logPath, [0, 1, 2].map((i) => `${sshdFailure(Date.now() - 3000 + i * 1000, '192.0.2.50', 200 + i)}\n`).join(''))
  await waitFor('the live ban', () => role.book.bans().some((b) => b.ip === '192.0.2.50'), 10_000)

  const replayed = async (source: object): Promise<string[]> => {
    const posted = await fetch(`${role.controlUrl}/v1/replay`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jails: ['sshd'], source }) })
    assert.equal(posted.status, 202, await posted.clone().text())
    const { id } = await posted.json() as { id: string }
    let job: { state: string; error?: string; result?: { jails: { bans: { ip: string }[] }[] } } = { state: 'queued' }
    await waitFor('the replay job', async () => {
      job = await (await fetch(`${role.controlUrl}/v1/replay/${id}`)).json() as typeof job
      return job.state === 'done' || job.state === 'failed'
    }, 20_000)
    assert.equal(job.state, 'done', job.error)
    return job.result!.jails[0]!.bans.map((b) => b.ip)
  }
  const hour = 3600_000
  assert.deepEqual(await replayed({ log: { from: new Date(started - hour).toISOString(), to: new Date(Date.now() + hour).toISOString() } }), ['192.0.2.50'])
  assert.deepEqual(await replayed({ files: [join(archive, 'auth.log.*')], as: logPath }), ['198.51.100.9'])
})
