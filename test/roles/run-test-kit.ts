import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Decision } from '../../schemas/events/decision.js'
import { Topics } from '../../schemas/topics.js'
import { EmbeddedLog } from '../../src/log/embedded-log.js'
import { readToEnd } from '../../src/log/read-to-end.js'
export { seededRandom } from '../../bench/seeded-random.js'

/** The counting settings of one test jail. */
export interface TestJail {
  readonly name: 'sshd' | 'postfix'
  readonly maxRetry: number
  readonly findTimeSecs: number
  readonly banTimeSecs: number
}

/** A failure line the test wrote: which jail it is for, the address in the line, the address the jail bans, its time. */
export interface WrittenFailure {
  readonly jail: string
  readonly ip: string
  /** What the jail counts and bans: the address, or its /64 for IPv6. */
  readonly banned: string
  readonly atMs: number
}

/** A decision reduced to what two runs on the same input must agree on. */
export interface DecisionKey {
  readonly type: Decision['type']
  readonly jail: string
  readonly ip: string
  readonly occurred_at: string
  readonly expires_at: string | null
}

// The test files run from test/roles (tsx) or dist/test/roles (after the build); the shipped filters are in config/ either way.
const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = here.includes(`${join('dist', 'test')}`) ? join(here, '..', '..', '..') : join(here, '..', '..')

/**
 * Writes into `dir` a configuration with only the given jails, both reading `logPath`,
 * and the repository's own filter.d linked in. No action: the role logs what
 * jail.conf's actions would do, and these jails have none.
 */
export function writeTestConfig(dir: string, logPath: string, jails: readonly TestJail[]): string {
  mkdirSync(dir, { recursive: true })
  symlinkSync(join(repoRoot, 'config', 'filter.d'), join(dir, 'filter.d'))
  const sections = jails.map((j) => [
    `[${j.name}]`,
    'enabled = true',
    `filter = ${j.name === 'postfix' ? 'postfix[mode=more]' : 'sshd'}`,
    `logpath = ${logPath}`,
    `maxretry = ${j.maxRetry}`,
    `findtime = ${j.findTimeSecs}`,
    `bantime = ${j.banTimeSecs}`,
    '',
  ].join('\n'))
  writeFileSync(join(dir, 'jail.conf'), ['[DEFAULT]', 'ignoreip = 127.0.0.1/8 ::1', 'window = fail2ban', 'ipv6prefix = 64', '', ...sections].join('\n'))
  return dir
}

/** A fresh empty directory under the system's temp dir. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** ISO 8601 with milliseconds and zone, as rsyslog's high-precision format writes it. */
function stamp(atMs: number): string {
  return new Date(atMs).toISOString().replace('Z', '+00:00')
}

/** An sshd failure; each line gets its own pid so sshd's per-session merging (mlfid) never joins two attackers. */
export function sshdFailure(atMs: number, ip: string, pid: number): string {
  return `${stamp(atMs)} srv sshd[${pid}]: Failed password for root from ${ip} port ${40000 + (pid % 20000)} ssh2`
}

/** A postfix relay rejection (postfix filter, mode normal). */
export function postfixFailure(atMs: number, ip: string, pid: number): string {
  return `${stamp(atMs)} mail postfix/smtpd[${pid}]: NOQUEUE: reject: RCPT from unknown[${ip}]: 554 5.7.1 <spam@example.com>: Relay access denied; from=<a@example.org> to=<spam@example.com> proto=ESMTP helo=<x>`
}

/** Lines no failregex of either jail matches. */
export function noiseLine(atMs: number, n: number): string {
  const kinds = [
    `srv sshd[${n}]: Accepted publickey for alice from 192.0.2.${n % 250} port 22 ssh2`,
    `srv CRON[${n}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`,
    `mail postfix/smtpd[${n}]: connect from unknown[198.51.100.${n % 250}]`,
    `mail postfix/qmgr[${n}]: 4F1A2B3C: removed`,
    `srv kernel: [${n}.000000] eth0: link up`,
  ]
  return `${stamp(atMs)} ${kinds[n % kinds.length]!}`
}

/** What fail2ban's counting gives for a schedule: the decisions, and per jail the keys still counting (`Currently failed`). */
export interface ReferenceOutcome {
  readonly decisions: DecisionKey[]
  readonly currentlyFailed: Map<string, number>
}

/**
 * fail2ban's counting for failures that all fall inside findtime of each
 * other and never reach maxretry again while their address is banned: per
 * (jail, address), the maxretry-th failure bans from its own time for
 * bantime, the count starts again after a ban, and each ban is lifted when it
 * ends. The tests keep their schedules inside these limits.
 */
export function referenceCounting(failures: readonly WrittenFailure[], jails: readonly TestJail[]): ReferenceOutcome {
  const counts = new Map<string, { jail: string; n: number }>()
  const decisions: DecisionKey[] = []
  for (const f of [...failures].sort((a, b) => a.atMs - b.atMs)) {
    const jail = jails.find((j) => j.name === f.jail)!
    const key = `${f.jail} ${f.banned}`
    const n = (counts.get(key)?.n ?? 0) + 1
    if (n < jail.maxRetry) {
      counts.set(key, { jail: f.jail, n })
      continue
    }
    counts.delete(key)
    // fail2ban reads a log line's time to the second: the fraction is dropped.
    const atMs = Math.floor(f.atMs / 1000) * 1000
    const expires = new Date(atMs + jail.banTimeSecs * 1000).toISOString()
    decisions.push({ type: 'BanIssued', jail: f.jail, ip: f.banned, occurred_at: new Date(atMs).toISOString(), expires_at: expires })
    decisions.push({ type: 'BanLifted', jail: f.jail, ip: f.banned, occurred_at: expires, expires_at: null })
  }
  const currentlyFailed = new Map<string, number>()
  for (const { jail } of counts.values()) currentlyFailed.set(jail, (currentlyFailed.get(jail) ?? 0) + 1)
  return { decisions: sortKeys(decisions), currentlyFailed }
}

/** The comparable part of a decision. */
export function keyOf(d: Decision): DecisionKey {
  return {
    type: d.type,
    jail: d.jail,
    ip: d.ip,
    occurred_at: new Date(d.occurred_at).toISOString(),
    expires_at: d.type === 'BanIssued' && d.expires_at !== null ? new Date(d.expires_at).toISOString() : null,
  }
}

export function sortKeys(keys: DecisionKey[]): DecisionKey[] {
  const text = (k: DecisionKey) => `${k.occurred_at} ${k.type} ${k.jail} ${k.ip}`
  return keys.sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0))
}

/** A decision as stored, with the wall time it was appended at. */
export interface StoredDecision {
  readonly decision: Decision
  readonly appendedAtMs: number
}

/** Every record of `decisions` in a data dir no process holds. */
export async function readDecisions(dataDir: string): Promise<StoredDecision[]> {
  const log = await EmbeddedLog.open({ dataDir, fsync: 'never' })
  try {
    const out: StoredDecision[] = []
    for await (const record of readToEnd(log, Topics.decisions.name)) {
      out.push({ decision: JSON.parse(record.value.toString('utf8')) as Decision, appendedAtMs: record.timestamp })
    }
    return out
  } finally {
    await log.close()
  }
}

/** Resolves when `check` holds, polling; rejects with `what` once `timeoutMs` has passed. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

