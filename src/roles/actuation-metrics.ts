import { Counter, type Registry } from 'prom-client'
import type { Actuation } from '../../schemas/events/actuation.js'

/**
 * How backends word a ban refused because its set is full (ipset's maxelem, an
 * nftables set's size): `set <name> is full: <the tool's message>`.
 */
const SET_FULL = /^set \S+ is full: /

/** Whether an actuation failed because its set is full. */
export function isSetFull(actuation: Pick<Actuation, 'outcome' | 'error'>): boolean {
  return actuation.outcome === 'failed' && actuation.error !== undefined && SET_FULL.test(actuation.error)
}

/**
 * The actuate worker's Prometheus counters, on the registry of the role that
 * serves /metrics (never prom-client's global one: tests build many in one
 * process). Labels are backends, outcomes and jails, never addresses.
 */
export class ActuationMetrics {
  private readonly actuations: Counter<'backend' | 'outcome'>
  private readonly setFull: Counter<'backend' | 'jail'>

  constructor(registry: Registry) {
    this.actuations = new Counter({
      name: 'banstream_actuations_total',
      help: 'Decisions carried out on this host, by backend (dry-run: logged only) and outcome (applied, removed, failed, skipped, dry-run).',
      labelNames: ['backend', 'outcome'] as const,
      registers: [registry],
    })
    this.setFull = new Counter({
      name: 'banstream_actuator_set_full_total',
      help: "Bans refused because the jail's firewall set is full (ipset maxelem, nftables set size); each is also a failed actuation.",
      labelNames: ['backend', 'jail'] as const,
      registers: [registry],
    })
  }

  /** Counts actuations once they are recorded. */
  count(actuations: readonly Actuation[]): void {
    for (const a of actuations) {
      this.actuations.inc({ backend: a.backend, outcome: a.outcome })
      if (isSetFull(a)) this.setFull.inc({ backend: a.backend, jail: a.jail })
    }
  }
}
