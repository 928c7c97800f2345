import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { JournaldSource, type JournaldConfig } from '../../src/sources/journald.js'
import { JsonFilePositionStore } from '../../src/sources/position-store.js'
import { fixturePath } from './fixture-path.js'
import { collector, waitFor } from './wait-for.js'

function hasJournalctl(): boolean {
  try {
    execFileSync('journalctl', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
const noJournalctl = hasJournalctl() ? false : 'journalctl is not installed here'

let dir: string
let journal: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'banstream-journald-'))
  journal = join(dir, 'system.journal')
  await writeFile(journal, gunzipSync(await readFile(fixturePath('sample.journal.gz'))))
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

const running: JournaldSource[] = []
after(async () => {
  for (const source of running) await source.stop()
})
async function startSource(config: JournaldConfig) {
  const sink = collector()
  const notes: string[] = []
  const source = new JournaldSource({ log: (_level, message) => notes.push(message), ...config })
  running.push(source)
  await source.start(sink.emit)
  return { source, sink, notes }
}

describe('JournaldSource', () => {
  test('where journalctl is absent it says so and stays idle', async () => {
    const { source, sink, notes } = await startSource({ journalctl_path: join(tmpdir(), 'no-such-dir', 'journalctl') })
    assert.equal(source.isIdle(), true)
    assert.ok(notes.some((note) => /journalctl not found .* stays idle/.test(note)), notes.join('\n'))
    await source.stop()
    assert.equal(sink.batches.length, 0)
  })

  test('builds journalctl arguments from journalmatch and the start position', () => {
    const source = new JournaldSource({ journalmatch: '_SYSTEMD_UNIT=sshd.service + _COMM=sshd', since_ms: 1123977600500 })
    const args = source.args()
    assert.deepEqual(args.slice(0, 4), ['--follow', '--output=json', '--all', '--no-pager'])
    assert.deepEqual(args.slice(-6), ['--since=@1123977600', '--no-tail', '--', '_SYSTEMD_UNIT=sshd.service', '+', '_COMM=sshd'])
  })

  test('follows a journal with journalctl: matched entries as fail2ban lines, with their times', { skip: noJournalctl }, async () => {
    const { sink } = await startSource({ files: [journal], start_at: 'head', journalmatch: 'SYSLOG_IDENTIFIER=sshd' })
    await waitFor(() => sink.lines().length === 3, 'the sshd entries')
    assert.deepEqual(sink.lines().slice(0, 2), [
      'vm sshd[4321]: Failed password for invalid user admin from 192.0.2.7 port 51234 ssh2',
      'vm sshd[4321]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.7',
    ])
    const batch = sink.batches[0]!
    assert.equal(batch.stream, 'journald')
    assert.equal(batch.host, 'vm')
    assert.equal(batch.times?.[0], 1795314293783.748)
  })

  test('resumes after the saved cursor', { skip: noJournalctl }, async () => {
    const entries = (await readFile(fixturePath('journalctl-json.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line))
    const store = new JsonFilePositionStore(join(dir, 'positions.json'))
    await store.save('journald', { cursor: entries[4].__CURSOR })
    const { source, sink } = await startSource({ files: [journal], position_store: store })
    await waitFor(() => sink.lines().length === 3, 'the entries after the cursor')
    assert.deepEqual(sink.lines(), ['vm sshd[7182]: Failed password for r\ufffd\ufffdt from 203.0.113.9 port 22 ssh2', 'vm python3[7182]: client 192.0.2.50 denied', 'vm systemd-journald[7164]: Journal stopped'])
    await source.stop()
    assert.deepEqual(await new JsonFilePositionStore(join(dir, 'positions.json')).load('journald'), { cursor: entries[7].__CURSOR })
  })
})
