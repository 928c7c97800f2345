/**
 * A generated month of failures for the store and API benches: 20 hosts, three jails, 100 k attacking
 * addresses of which a few hundred do most of the work, one log line per failure.
 */
import { storableEventJson } from '../schemas/clickhouse/rows.js'
import { eventTable } from '../schemas/clickhouse/tables.js'
import { eventId } from '../schemas/events/event-id.js'
import type { FailureDetected } from '../schemas/events/failure-detected.js'

const MONTH_MS = 30 * 86_400_000
export const END = Date.UTC(2026, 10, 1)
export const START = END - MONTH_MS
export const JAILS = ['sshd', 'postfix', 'dovecot'] as const
export const HOSTS = Array.from({ length: 20 }, (_, i) => `mx${i + 1}`)
export const USERS = ['root', 'admin', 'test', 'oracle', 'postgres', 'info', 'sales', 'alice', 'bob', 'ubuntu', 'git', 'user1']
const ADDRESSES = 100_000

/** The k-th attacking address; low k are the busy ones (see `attacker`). */
export function address(k: number): string {
  return k % 10 === 9 ? `2001:db8:${(k >> 8).toString(16)}::${(k & 255).toString(16)}` : `${[198, 203, 45, 185, 91][k % 5]}.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`
}

/** Skewed: the cube of a uniform draw puts half the failures on the first ~12% of addresses. */
export function attacker(r: () => number): number {
  return Math.floor(r() ** 3 * ADDRESSES)
}

/**
 * Failures number `from` to `from + count - 1` (their event ids follow the number), drawn from `r`;
 * `total` of them span the month in number order, as a store receives them, so that each insert
 * fills one or two of the failures table's weekly partitions as a live one does.
 */
export function generatedFailures(from: number, count: number, total: number, r: () => number): FailureDetected[] {
  const out: FailureDetected[] = []
  for (let n = from; n < from + count; n++) {
    const ip = address(attacker(r))
    const jail = JAILS[Math.floor(r() * JAILS.length)]!
    const host = HOSTS[Math.floor(r() * HOSTS.length)]!
    const user = USERS[Math.floor(r() * USERS.length)]!
    const at = new Date(START + Math.floor((n + r()) * MONTH_MS / total)).toISOString()
    out.push({
      type: 'FailureDetected', event_id: eventId('failures', 0, n, jail), jail, ip, host, user,
      matches: [`${host} ${jail}[${1000 + (n % 60000)}]: Failed password for ${user} from ${ip} port 22 ssh2`],
      occurred_at: at, source: '/var/log/auth.log', regex_index: 0,
    })
  }
  return out
}

/** Failures as their topic carries them (JSON), ready for Store.insertEvents. */
export function failureJson(failures: readonly FailureDetected[]): Buffer[] {
  const columns = eventTable('failures').columns
  return failures.map((f) => storableEventJson(Buffer.from(JSON.stringify(f)), f, columns))
}

/** Keeps the generated month whatever the date: the retention TTL would otherwise drop it as it is written. */
export const KEEP_FOREVER = { failures_days: 0, decisions_days: 0, actuations_days: 0 } as const
