import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import { cliCommand } from '../cli/cli-path.js'
import {
  keyOf, noiseLine, postfixFailure, readDecisions, referenceCounting, seededRandom, sortKeys, sshdFailure, tempDir, waitFor, writeTestConfig,
  type StoredDecision, type TestJail, type WrittenFailure,
} from './run-test-kit.js'

const JAILS: TestJail[] = [
  // Bans outlast the longest time the killed run can be down (a few restarts in a row), so lines read late still ban.
  { name: 'sshd', maxRetry: 3, findTimeSecs: 60, banTimeSecs: 8 },
  { name: 'postfix', maxRetry: 2, findTimeSecs: 60, banTimeSecs: 10 },
]
const KILLS = 20
const INPUT_MS = 30_000
const ATTACKERS = 26
// A lift is due this long after its ban ends, or after the process that should append it is up again.
const LIFT_TOLERANCE_MS = 1500
const seed = Number(process.env['BANSTREAM_CRASH_SEED'] ?? Math.floor(Math.random() * 2 ** 32))
const rerun = `(seed ${seed}: rerun with BANSTREAM_CRASH_SEED=${seed}, and BANSTREAM_KEEP_DATA=1 to keep the data dirs)`

/** How to start `banstream run`: the built CLI beside this file in dist/, else the source through tsx. */

/** One line of the input, due `dueMs` after the input starts; a failure's time is the wall time it is written at. */
interface Planned {
  readonly dueMs: number
  readonly failure?: { jail: 'sshd' | 'postfix'; ip: string; banned: string }
}

/**
 * A seeded schedule: attackers of both jails starting at random times, with
 * between one and 2·maxretry−1 failures (so never maxretry again while still
 * banned), some over IPv6 rotating inside a /64, some returning once their
 * ban is over; noise lines throughout.
 */
function plan(random: () => number): Planned[] {
  const lines: Planned[] = []
  for (let n = 0; n < ATTACKERS; n++) {
    const jail = JAILS[n % JAILS.length]!
    const ipv6 = random() < 0.3
    const ipOf = (i: number) => (ipv6 ? `2001:db8:${n + 1}:7::${i + 1}` : `203.0.113.${n + 1}`)
    const banned = ipv6 ? `2001:db8:${n + 1}:7::/64` : ipOf(0)
    const returning = random() < 0.25
    const count = returning ? jail.maxRetry : 1 + Math.floor(random() * (2 * jail.maxRetry - 1))
    let at = Math.floor(random() * (INPUT_MS - 16_000))
    const failure = (i: number) => ({ jail: jail.name, ip: ipOf(ipv6 ? i : 0), banned })
    for (let i = 0; i < count; i++, at += 150 + Math.floor(random() * 700)) lines.push({ dueMs: at, failure: failure(i) })
    if (returning) {
      // Well after the ban ends, even with the line's time cut to the second.
      at += jail.banTimeSecs * 1000 + 1500
      for (let i = 0; i < jail.maxRetry; i++, at += 150 + Math.floor(random() * 500)) lines.push({ dueMs: at, failure: failure(count + i) })
    }
  }
  for (let at = 0; at < INPUT_MS; at += 60 + Math.floor(random() * 80)) lines.push({ dueMs: at })
  return lines.sort((a, b) => a.dueMs - b.dueMs)
}

/** A running `banstream run` child: when it said it was up, and what it wrote to stderr. */
class RunProcess {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readyAtMs: number | undefined
  url: string | undefined
  stderr = ''

  constructor(configDir: string, dataDir: string) {
    this.child = spawn(process.execPath, [...cliCommand(), 'run', '--config', configDir, '--data-dir', dataDir, '--control-port', '0', '--fsync', 'never'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)))
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text
      const up = /control API on (http:\/\/\S+)/.exec(this.stderr)
      if (up && this.readyAtMs === undefined) {
        this.readyAtMs = Date.now()
        this.url = up[1]!
      }
    })
  }

  /** SIGKILL, then wait until the process is reaped so its pid no longer holds the data dir's lock. */
  async kill(): Promise<number> {
    const at = Date.now()
    this.child.kill('SIGKILL')
    await this.exited
    return at
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM')
    return this.exited
  }

  async bansInForce(): Promise<number> {
    const response = await fetch(`${this.url!}/v1/bans`)
    return ((await response.json()) as { bans: unknown[] }).bans.length
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** What `a` holds beyond `b`, counting repeats. */
function difference(a: readonly string[], b: readonly string[]): string[] {
  const left = [...b]
  return a.filter((x) => {
    const i = left.indexOf(x)
    if (i === -1) return true
    left.splice(i, 1)
    return false
  })
}

/** When a process of a run was up: from saying so until it was killed (or stopped). */
interface Life {
  readonly readyAtMs: number | undefined
  readonly endedAtMs: number
}

/**
 * The latest a lift may be appended: LIFT_TOLERANCE_MS after its ban ends, or
 * after the first process that is up then (or later) came up, if it then
 * stayed up that long.
 */
function liftDeadline(expiresMs: number, lives: readonly Life[]): number {
  for (const life of lives) {
    if (life.readyAtMs === undefined || life.endedAtMs <= expiresMs) continue
    const from = Math.max(expiresMs, life.readyAtMs)
    if (life.endedAtMs >= from + LIFT_TOLERANCE_MS) return from + LIFT_TOLERANCE_MS
  }
  return Infinity
}

describe(`banstream run killed with SIGKILL at ${KILLS} random points ${rerun}`, () => {
  const random = seededRandom(seed)
  const written: WrittenFailure[] = []
  const crashedLives: Life[] = []
  const referenceLives: Life[] = []
  let crashed: StoredDecision[]
  let uninterrupted: StoredDecision[]
  let running: RunProcess[] = []
  let workDir = ''

  before(async () => {
    const work = tempDir('banstream-crash-')
    workDir = work
    const logPath = join(work, 'input.log')
    writeFileSync(logPath, '')
    const configDir = writeTestConfig(join(work, 'config'), logPath, JAILS)
    const crashedDir = join(work, 'crashed')
    const referenceDir = join(work, 'uninterrupted')

    // Both runs read the same file as it grows, so their input and its times are the same.
    const reference = new RunProcess(configDir, referenceDir)
    running = [reference]
    await waitFor('the uninterrupted run to start', () => reference.readyAtMs !== undefined, 15_000)

    const startMs = Date.now()
    let pid = 1000
    const writing = (async () => {
      for (const line of plan(random)) {
        const wait = startMs + line.dueMs - Date.now()
        if (wait > 0) await sleep(wait)
        const atMs = Date.now()
        const f = line.failure
        if (!f) {
          appendFileSync(logPath, `${noiseLine(atMs, pid++)}\n`)
          continue
        }
        appendFileSync(logPath, `${(f.jail === 'sshd' ? sshdFailure : postfixFailure)(atMs, f.ip, pid++)}\n`)
        written.push({ ...f, atMs })
      }
    })()

    // Kill points are drawn after the schedule, from the same generator: one seed repeats both.
    // A quarter of them fall while the process starts (recovering from the last kill), the rest while it runs.
    for (let k = 0; k < KILLS; k++) {
      const victim = new RunProcess(configDir, crashedDir)
      running = [reference, victim]
      if (random() < 0.25) await sleep(Math.floor(random() * 800))
      else {
        await waitFor('the restarted run to start', () => victim.readyAtMs !== undefined, 15_000, 10)
        await sleep(Math.floor(random() * 1500))
      }
      const killedAt = await victim.kill()
      crashedLives.push({ readyAtMs: victim.readyAtMs, endedAtMs: killedAt })
    }
    const last = new RunProcess(configDir, crashedDir)
    running = [reference, last]
    await writing
    await waitFor('the last run to start', () => last.readyAtMs !== undefined, 15_000)

    // Done once every ban can have ended and both runs have lifted them all.
    const longest = Math.max(...JAILS.map((j) => j.banTimeSecs)) * 1000
    const lastFailure = Math.max(...written.map((f) => f.atMs))
    await waitFor('every ban to be lifted', async () =>
      Date.now() > lastFailure + longest + 1000 && (await reference.bansInForce()) === 0 && (await last.bansInForce()) === 0, 30_000, 200)
    const stoppedAt = Date.now()
    assert.equal(await last.stop(), 0, `the last run stops cleanly ${rerun}\n${last.stderr}`)
    assert.equal(await reference.stop(), 0, `the uninterrupted run stops cleanly ${rerun}\n${reference.stderr}`)
    running = []
    crashedLives.push({ readyAtMs: last.readyAtMs, endedAtMs: stoppedAt })
    referenceLives.push({ readyAtMs: reference.readyAtMs, endedAtMs: stoppedAt })
    crashed = await readDecisions(crashedDir)
    uninterrupted = await readDecisions(referenceDir)
  })

  after(async () => {
    for (const p of running) await p.kill()
    if (!process.env['BANSTREAM_KEEP_DATA']) rmSync(workDir, { recursive: true, force: true })
  })

  test('the uninterrupted run bans and unbans as fail2ban counts', () => {
    assert.deepEqual(sortKeys(uninterrupted.map((s) => keyOf(s.decision))), referenceCounting(written, JAILS).decisions, rerun)
  })

  test('the killed and restarted run lost no ban and duplicated none: its decisions equal the uninterrupted run', (t) => {
    assert.ok(uninterrupted.length > 0)
    const lifts = crashed.filter((s) => s.decision.type === 'BanLifted')
    const endedWhileDown = lifts.filter((s) => {
      const ended = new Date(s.decision.occurred_at).getTime()
      return !crashedLives.some((l) => l.readyAtMs !== undefined && l.readyAtMs <= ended && ended < l.endedAtMs)
    }).length
    t.diagnostic(`${crashed.length} decisions, ${lifts.length} of them lifts; ${crashedLives.filter((l) => l.readyAtMs === undefined).length} of ${KILLS} kills fell during start-up; ${endedWhileDown} bans ended while the run was down`)
    const text = (run: readonly StoredDecision[]) => sortKeys(run.map((s) => keyOf(s.decision)))
      .map((k) => `${k.type} ${k.jail} ${k.ip} ${k.occurred_at}${k.expires_at ? ` until ${k.expires_at}` : ''}`)
    const lost = difference(text(uninterrupted), text(crashed))
    const extra = difference(text(crashed), text(uninterrupted))
    const lives = crashedLives.map((l) => `${l.readyAtMs === undefined ? 'never up' : new Date(l.readyAtMs).toISOString()} to ${new Date(l.endedAtMs).toISOString()}`)
    assert.deepEqual({ lost, extra }, { lost: [], extra: [] }, `${rerun} data in ${workDir}; the killed run was up:\n${lives.join('\n')}`)
  })

  test('every decision has its own event id', () => {
    for (const run of [crashed, uninterrupted]) {
      const ids = run.map((s) => s.decision.event_id)
      assert.equal(new Set(ids).size, ids.length, rerun)
    }
  })

  test('each unban is dated at its ban end and appended then, or right after a restart when the ban ended while down', () => {
    for (const [run, lives] of [[crashed, crashedLives], [uninterrupted, referenceLives]] as const) {
      const bans = new Map(run.flatMap((s) => (s.decision.type === 'BanIssued' ? [[s.decision.event_id, s.decision] as const] : [])))
      for (const { decision: lift, appendedAtMs } of run) {
        if (lift.type !== 'BanLifted') continue
        const ban: BanIssued | undefined = bans.get(lift.ban_event_id)
        assert.ok(ban?.expires_at, `lift of ${lift.jail} ${lift.ip} names an issued ban ${rerun}`)
        const expiresMs = new Date(ban.expires_at).getTime()
        assert.equal(new Date(lift.occurred_at).getTime(), expiresMs, rerun)
        assert.ok(appendedAtMs >= expiresMs, `lift of ${lift.ip} appended before its ban ended ${rerun}`)
        const deadline = liftDeadline(expiresMs, lives)
        assert.ok(appendedAtMs <= deadline,
          `lift of ${lift.jail} ${lift.ip} (ended ${ban.expires_at}) appended ${appendedAtMs - expiresMs} ms after its end, past ${deadline - expiresMs} ms ${rerun}`)
      }
    }
  })
})
