import { Decision } from '../../../schemas/events/decision.js'
import { validate } from '../../../schemas/events/validate.js'
import type { Store } from '../../store/store.js'
import { eventColumnsSql, rowEvent } from '../history/event-rows.js'

/**
 * The bans the history holds for some jails between two times (both
 * included: the diff's own bounds), oldest first: what a replay's diff
 * compares against. Rows that are no valid Decision are left out.
 */
export async function decidedBans(store: Store, jails: readonly string[], fromMs: number, toMs: number): Promise<Decision[]> {
  const rows = await store.query(`SELECT ${eventColumnsSql('decisions')}
    FROM decisions FINAL
    WHERE type = 'BanIssued' AND jail IN {jails:Array(String)}
      AND occurred_at >= fromUnixTimestamp64Milli({from_ms:Int64}) AND occurred_at <= fromUnixTimestamp64Milli({to_ms:Int64})
    ORDER BY occurred_at, event_id`, { jails, from_ms: fromMs, to_ms: toMs })
  const decisions: Decision[] = []
  for (const row of rows) {
    const checked = validate(Decision, rowEvent(row))
    if (checked.ok) decisions.push(checked.value)
  }
  return decisions
}
