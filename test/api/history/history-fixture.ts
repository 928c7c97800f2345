import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventRow } from '../../../schemas/clickhouse/rows.js'
import { eventTable, type EventTableName } from '../../../schemas/clickhouse/tables.js'
import type { Actuation } from '../../../schemas/events/actuation.js'
import type { BanIssued } from '../../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../../schemas/events/ban-lifted.js'
import { eventId } from '../../../schemas/events/event-id.js'
import type { FailureDetected } from '../../../schemas/events/failure-detected.js'
import { ChdbStore } from '../../../src/store/chdb-store.js'
import { migrateStore } from '../../../src/store/migrate.js'

/** A time on 2005-08-14 (UTC), `minute` minutes after 10:00. */
export function at(minute: number): string {
  return new Date(Date.UTC(2005, 7, 14, 10, minute)).toISOString()
}

export function failure(n: number, fields: Pick<FailureDetected, 'jail' | 'ip' | 'host'> & Partial<FailureDetected> & { minute: number }): FailureDetected {
  const { minute, ...rest } = fields
  return {
    type: 'FailureDetected', event_id: eventId('failures', 0, n, fields.jail),
    matches: [`${at(minute)} ${fields.host} ${fields.jail}[1]: authentication failure for ${fields.user ?? 'unknown'} from ${fields.ip}`],
    occurred_at: at(minute), source: '/var/log/auth.log', regex_index: 0, ...rest,
  }
}

/** The history the route tests ask about: who failed, what was banned, what each firewall did. */
export function fixtureEvents() {
  const failures: FailureDetected[] = [
    ...[0, 1, 2, 3, 4].map((i) => failure(i, { jail: 'sshd', ip: '192.0.2.1', host: 'mail1', user: i < 3 ? 'root' : 'admin', minute: i })),
    failure(5, { jail: 'postfix', ip: '192.0.2.1', host: 'mail2', minute: 30 }),
    failure(6, { jail: 'postfix', ip: '192.0.2.1', host: 'mail2', minute: 31 }),
    failure(7, { jail: 'sshd', ip: '192.0.2.1', host: 'mail1', user: 'root', minute: 32, success: true }),
    ...[8, 9, 10].map((i) => failure(i, { jail: 'sshd', ip: '192.0.2.77', host: 'mail1', user: 'oracle', minute: 60 + i })),
    ...[11, 12, 13, 14].map((i) => failure(i, { jail: 'dovecot', ip: '2001:db8::7', host: 'mail2', user: 'info', minute: 120 + i })),
    ...[15, 16, 17, 18].map((i) => failure(i, { jail: 'dovecot', ip: '2001:db8::8', host: 'mail2', user: "o'brien", minute: 120 + i })),
    failure(19, { jail: 'sshd', ip: '198.51.100.9', host: 'mail1', user: 'root', minute: 24 * 60 * 10 }),
  ]
  const ban1: BanIssued = {
    type: 'BanIssued', event_id: eventId('ban', 1), cause_event_id: failures[4]!.event_id, jail: 'sshd', ip: '192.0.2.1',
    failures: 5, ban_time_secs: 600, ban_count: 1, expires_at: at(14), occurred_at: at(4), reason: 'threshold', matches: failures[4]!.matches,
  }
  const lift1: BanLifted = { type: 'BanLifted', event_id: eventId('lift', 1), ban_event_id: ban1.event_id, jail: 'sshd', ip: '192.0.2.1', occurred_at: at(14), reason: 'expired' }
  const ban6: BanIssued = {
    type: 'BanIssued', event_id: eventId('ban', 2), cause_event_id: failures[17]!.event_id, jail: 'dovecot', ip: '2001:db8::/64',
    failures: 8, ban_time_secs: -1, ban_count: 1, expires_at: null, occurred_at: at(138), reason: 'threshold', matches: [],
  }
  const actuation = (n: number, host: string, decision: BanIssued | BanLifted, outcome: Actuation['outcome'], minute: number, error?: string): Actuation => ({
    type: 'Actuation', event_id: eventId('act', n), decision_event_id: decision.event_id, host, jail: decision.jail, ip: decision.ip,
    backend: 'nftables', action: 'nftables[name=sshd]', outcome, occurred_at: at(minute), ...(error ? { error } : {}),
  })
  const actuations: Actuation[] = [
    actuation(1, 'fw1', ban1, 'applied', 5), actuation(2, 'fw1', lift1, 'removed', 15),
    actuation(3, 'fw2', ban1, 'failed', 5, 'nft: No such file or directory'), actuation(4, 'fw2', ban6, 'applied', 140),
  ]
  return { failures, decisions: [ban1, lift1, ban6], actuations, ban1, lift1, ban6 }
}

/** A chDB store under a temp dir, migrated and filled with the fixture (one failure inserted twice: a redelivery). */
export async function fixtureStore(): Promise<{ store: ChdbStore; events: ReturnType<typeof fixtureEvents>; remove(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'banstream-api-'))
  const store = ChdbStore.open(dir)
  // The fixture's times are of 2005: kept forever, or the retention TTL would drop them as they are written.
  await migrateStore(store, { failures_days: 0, decisions_days: 0, actuations_days: 0 })
  const events = fixtureEvents()
  const insert = async (table: EventTableName, rows: readonly object[]) =>
    store.insert(table, rows.map((e) => eventRow(e as Record<string, unknown>, eventTable(table).columns)))
  await insert('failures', events.failures)
  await insert('failures', [events.failures[0]!])
  await insert('decisions', events.decisions)
  await insert('actuations', events.actuations)
  return { store, events, remove: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }) } }
}
