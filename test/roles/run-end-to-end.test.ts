import assert from 'node:assert/strict'
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Decision } from '../../schemas/events/decision.js'
import type { JailStatus } from '../../schemas/api/control.js'
import { Topics } from '../../schemas/topics.js'
import { readToEnd } from '../../src/log/read-to-end.js'
import { RunRole } from '../../src/roles/run.js'
import {
  keyOf, noiseLine, postfixFailure, referenceCounting, sortKeys, sshdFailure, tempDir, waitFor, writeTestConfig,
  type DecisionKey, type ReferenceOutcome, type TestJail, type WrittenFailure,
} from './run-test-kit.js'

const JAILS: TestJail[] = [
  { name: 'sshd', maxRetry: 3, findTimeSecs: 60, banTimeSecs: 6 },
  { name: 'postfix', maxRetry: 2, findTimeSecs: 60, banTimeSecs: 8 },
]

/** Who attacks, how often, in the first burst. `banned` is what the jail counts: IPv6 by /64. */
const ATTACKERS: { jail: 'sshd' | 'postfix'; ips: string[]; banned: string; failures: number }[] = [
  { jail: 'sshd', ips: ['192.0.2.10'], banned: '192.0.2.10', failures: 3 }, // exactly maxretry
  { jail: 'sshd', ips: ['192.0.2.11'], banned: '192.0.2.11', failures: 4 }, // one over: the last starts a new count
  { jail: 'sshd', ips: ['198.51.100.7'], banned: '198.51.100.7', failures: 2 }, // under maxretry
  { jail: 'sshd', ips: ['2001:db8:a:b::1', '2001:db8:a:b::2', '2001:db8:a:b::3'], banned: '2001:db8:a:b::/64', failures: 3 }, // rotating inside a /64
  { jail: 'sshd', ips: ['192.0.2.12'], banned: '192.0.2.12', failures: 3 }, // comes back once its ban ends
  { jail: 'postfix', ips: ['203.0.113.5'], banned: '203.0.113.5', failures: 2 },
  { jail: 'postfix', ips: ['2001:db8:c:d::77'], banned: '2001:db8:c:d::/64', failures: 1 },
  { jail: 'postfix', ips: ['2001:db8:e:f::1'], banned: '2001:db8:e:f::/64', failures: 3 },
  { jail: 'postfix', ips: ['203.0.113.6'], banned: '203.0.113.6', failures: 1 },
]
const RETURNING = '192.0.2.12'
const NOISE_LINES = 300
// The first burst is dated over the last few seconds, well inside the shortest bantime, so its bans are still due when read.
const BURST_MS = 2000

interface Written {
  readonly lines: string[]
  readonly failures: WrittenFailure[]
}

let pid = 1000
function failureLine(jail: 'sshd' | 'postfix', atMs: number, ip: string): string {
  return jail === 'sshd' ? sshdFailure(atMs, ip, pid++) : postfixFailure(atMs, ip, pid++)
}

/** The first burst: attackers' failures round-robin so they interleave, and noise, each spread evenly over BURST_MS up to `endMs`. */
function firstBurst(endMs: number): Written {
  const failures: WrittenFailure[] = []
  const rounds = Math.max(...ATTACKERS.map((a) => a.failures))
  for (let round = 0; round < rounds; round++) {
    for (const a of ATTACKERS) {
      if (round < a.failures) failures.push({ jail: a.jail, ip: a.ips[round % a.ips.length]!, banned: a.banned, atMs: 0 })
    }
  }
  const dated = failures.map((f, k) => ({ ...f, atMs: endMs - BURST_MS + Math.floor(((k + 1) * BURST_MS) / failures.length) }))
  const events = [
    ...dated.map((f) => ({ atMs: f.atMs, line: failureLine(f.jail as 'sshd' | 'postfix', f.atMs, f.ip) })),
    ...Array.from({ length: NOISE_LINES }, (_, n) => {
      const atMs = endMs - BURST_MS + Math.floor((n * BURST_MS) / NOISE_LINES)
      return { atMs, line: noiseLine(atMs, n) }
    }),
  ].sort((x, y) => x.atMs - y.atMs)
  return { lines: events.map((e) => e.line), failures: dated }
}

describe('banstream run over a generated log', () => {
  let role: RunRole
  let logPath: string
  let fail2banLogPath: string
  let written: WrittenFailure[]
  let reference: ReferenceOutcome
  let firstBurstBans: DecisionKey[]
  let decisions: Decision[]
  let statusDuringBans: Map<string, JailStatus>
  const statusAtEnd = new Map<string, JailStatus>()

  const decisionsSoFar = async (): Promise<Decision[]> => {
    const out: Decision[] = []
    for await (const record of readToEnd(role.log, Topics.decisions.name)) out.push(JSON.parse(record.value.toString('utf8')) as Decision)
    return out
  }
  const jailStatus = async (jail: string): Promise<JailStatus> => {
    const response = await fetch(`${role.controlUrl!}/v1/jails/${jail}`)
    assert.equal(response.status, 200)
    return (await response.json()) as JailStatus
  }

  let work: string

  before(async () => {
    work = tempDir('banstream-e2e-')
    logPath = join(work, 'input.log')
    fail2banLogPath = join(work, 'banstream.log')
    const burst = firstBurst(Date.now())
    written = [...burst.failures]
    writeFileSync(logPath, `${burst.lines.join('\n')}\n`)
    firstBurstBans = referenceCounting(written, JAILS).decisions.filter((d) => d.type === 'BanIssued')

    role = await RunRole.start({
      configDir: writeTestConfig(join(work, 'config'), logPath, JAILS),
      dataDir: join(work, 'data'),
      logFile: fail2banLogPath,
      control: { port: 0 },
      fsync: 'never',
      note: () => undefined,
    })

    // Every ban of the burst is in force at once: the shortest ban outlasts the burst's spread.
    const banned = () => new Set(role.book.bans().map((b) => `${b.jail} ${b.ip}`))
    await waitFor('the first burst bans', () => firstBurstBans.every((b) => banned().has(`${b.jail} ${b.ip}`)), 10_000)
    statusDuringBans = new Map([['sshd', await jailStatus('sshd')], ['postfix', await jailStatus('postfix')]])

    // The returning attacker starts again only once its first ban has been lifted.
    await waitFor(`${RETURNING}'s first unban`, async () => (await decisionsSoFar()).some((d) => d.type === 'BanLifted' && d.ip === RETURNING), 15_000)
    const now = Date.now()
    const wave = [now - 200, now - 100, now].map((atMs) => ({ jail: 'sshd', ip: RETURNING, banned: RETURNING, atMs }))
    appendFileSync(logPath, wave.map((f) => `${sshdFailure(f.atMs, f.ip, pid++)}\n${noiseLine(f.atMs, pid++)}\n`).join(''))
    written.push(...wave)

    reference = referenceCounting(written, JAILS)
    await waitFor('every expected ban and unban', async () => (await decisionsSoFar()).length >= reference.decisions.length && role.book.bans().length === 0, 20_000)
    decisions = await decisionsSoFar()
    const unbans = reference.decisions.filter((d) => d.type === 'BanLifted').length
    await waitFor('the Unban lines', () => (readFileSync(fail2banLogPath, 'utf8').match(/\] Unban /g) ?? []).length >= unbans, 5_000)
    for (const jail of ['sshd', 'postfix']) statusAtEnd.set(jail, await jailStatus(jail))
  })

  after(async () => {
    await role?.stop()
    rmSync(work, { recursive: true, force: true })
  })

  test('the decisions are exactly the bans and unbans of the reference counting', () => {
    assert.deepEqual(sortKeys(decisions.map(keyOf)), reference.decisions)
  })

  test('every decision has its own event id', () => {
    assert.equal(new Set(decisions.map((d) => d.event_id)).size, decisions.length)
  })

  test('an IPv6 attacker rotating addresses inside a /64 is banned as the /64', () => {
    assert.ok(decisions.some((d) => d.type === 'BanIssued' && d.jail === 'sshd' && d.ip === '2001:db8:a:b::/64'))
  })

  test('an attacker returning after its ban ends is banned again', () => {
    assert.equal(decisions.filter((d) => d.type === 'BanIssued' && d.ip === RETURNING).length, 2)
  })

  test('each unban lifts its own ban and is dated at its end', () => {
    const bans = new Map(decisions.flatMap((d) => (d.type === 'BanIssued' ? [[d.event_id, d] as const] : [])))
    for (const lift of decisions) {
      if (lift.type !== 'BanLifted') continue
      const ban = bans.get(lift.ban_event_id)
      assert.ok(ban, `lift ${lift.event_id} names a ban that was issued`)
      assert.equal(lift.reason, 'expired')
      assert.equal(new Date(lift.occurred_at).getTime(), new Date(ban.expires_at!).getTime())
    }
  })

  test('the fail2ban-format log has a Found line per failure and a Ban and Unban line per decision', () => {
    const text = readFileSync(fail2banLogPath, 'utf8')
    for (const f of written) {
      assert.ok(text.includes(`[${f.jail}] Found ${f.ip} - ${localSeconds(f.atMs)}\n`), `Found line for ${f.ip} at ${localSeconds(f.atMs)}`)
    }
    const actionLines = text.split('\n').filter((l) => /\] (Ban|Unban) /.test(l)).map((l) => l.slice(l.indexOf('NOTICE') + 'NOTICE'.length).trim())
    const expected = reference.decisions.map((d) => `[${d.jail}] ${d.type === 'BanIssued' ? 'Ban' : 'Unban'} ${d.ip}`)
    assert.deepEqual(actionLines.sort(), expected.sort())
  })

  test('the control port shows the bans of the first burst while they are in force', () => {
    for (const jail of ['sshd', 'postfix']) {
      const expected = firstBurstBans.filter((b) => b.jail === jail).map((b) => b.ip).sort()
      const status = statusDuringBans.get(jail)!
      assert.equal(status.actions.currently_banned, expected.length, jail)
      assert.deepEqual([...status.actions.banned_ip_list].sort(), expected, jail)
      assert.deepEqual(status.filter.file_list, [logPath])
    }
  })

  test('the control port counts failures and bans as fail2ban-client status does', () => {
    for (const jail of ['sshd', 'postfix']) {
      const status = statusAtEnd.get(jail)!
      assert.deepEqual(status, {
        name: jail,
        filter: {
          currently_failed: reference.currentlyFailed.get(jail) ?? 0,
          total_failed: written.filter((f) => f.jail === jail).length,
          file_list: [logPath],
        },
        actions: {
          currently_banned: 0,
          total_banned: reference.decisions.filter((d) => d.type === 'BanIssued' && d.jail === jail).length,
          banned_ip_list: [],
        },
      })
    }
  })
})

/** A time as fail2ban's Found line writes it: local time to the second. */
function localSeconds(atMs: number): string {
  const d = new Date(atMs)
  const two = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`
}
