import { canonicalAddress } from '../../schemas/events/address.js'
import { Decision } from '../../schemas/events/decision.js'
import { decodeEvent } from '../../schemas/events/validate.js'
import { Topics } from '../../schemas/topics.js'
import type { LiftedEntry } from '../api/control/control-port.js'
import type { Log } from '../log/log.js'
import { offsetsForTime } from '../log/offsets-for-time.js'
import { readToEnd } from '../log/read-to-end.js'

/**
 * The bans lifted by the records `decisions` received since `ms` (by append time, so a lift
 * appended late, for a ban that ended while no stage ran, is among them). Read from the topic,
 * the record of every lift, so the answer does not depend on how long this process has run.
 */
export async function liftedSince(log: Log, ms: number): Promise<LiftedEntry[]> {
  const from = await offsetsForTime(log, Topics.decisions.name, ms)
  const lifted: LiftedEntry[] = []
  for await (const record of readToEnd(log, Topics.decisions.name, from)) {
    const decoded = decodeEvent(Decision, record.value)
    if (!decoded.ok || decoded.value.type !== 'BanLifted') continue
    const { jail, ip, ban_event_id, occurred_at } = decoded.value
    // What bouncers are told to delete: only an address in the canonical spelling the stages write.
    if (canonicalAddress(ip) !== ip || Number.isNaN(Date.parse(occurred_at))) continue
    lifted.push({ jail, ip, ban_event_id, lifted_at: occurred_at })
  }
  return lifted
}
