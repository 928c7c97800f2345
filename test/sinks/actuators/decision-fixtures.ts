import assert from 'node:assert/strict'
import type { BanIssued } from '../../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../../schemas/events/ban-lifted.js'

let seq = 0

/** A threshold ban of `ip` in `jail` starting now; -1 seconds = permanent. */
export function ban(jail: string, ip: string, ban_time_secs: number): BanIssued {
  const now = Date.now()
  return {
    type: 'BanIssued', event_id: `ban-${++seq}`, cause_event_id: `failure-${seq}`, jail, ip, failures: 3, ban_time_secs, ban_count: 1,
    expires_at: ban_time_secs < 0 ? null : new Date(now + ban_time_secs * 1000).toISOString(),
    occurred_at: new Date(now).toISOString(), reason: 'threshold', matches: [],
  }
}

/** An operator's lift of that ban, now. */
export function lift(b: BanIssued): BanLifted {
  return { type: 'BanLifted', event_id: `lift-${b.event_id}`, ban_event_id: b.event_id, jail: b.jail, ip: b.ip, occurred_at: new Date().toISOString(), reason: 'manual' }
}

/** Polls `check` every 100 ms until it holds; fails the test after `deadline_ms`. */
export async function until(what: string, check: () => Promise<boolean>, deadline_ms: number): Promise<void> {
  const end = Date.now() + deadline_ms
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`gave up waiting for ${what} after ${deadline_ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
