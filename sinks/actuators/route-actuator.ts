import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { BanLifted } from '../../schemas/events/ban-lifted.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome, ReconcileResult, StepFailure, StepResult } from './actuator-backend.js'
import { banOver, type CommandOptions, outcome, QueuedBackend, toolError, triage } from './backend-kit.js'
import {
  DEFAULT_ROUTE_PROTO, parseBatchErrors, ROUTE_BLOCKTYPES, parseRouteListing, routeBatch, routeDestination, RouteInputError, routeListArgv,
  routeProto, routeReconcilePlan, type OwnedRoute, type RouteBlocktype, type RouteJail, type RoutePlan,
} from './route-commands.js'
import { runCommand, type CommandResult } from './run-command.js'

export interface RouteActuatorOptions extends CommandOptions {
  /** The jails with a route action on this host; decisions of other jails fail. */
  readonly jails: readonly RouteJail[]
  /** The routing protocol number that marks our routes (see route-commands.ts). Default 201. */
  readonly proto?: number
}

interface Pending<T> {
  readonly decision: T
  readonly jail: RouteJail
  readonly family: 4 | 6
  readonly dst: string
}

const EXISTS = /File exists/i
const ABSENT = /No such process/i

/**
 * The route backend: a ban is an unreachable (blackhole, prohibit) route to
 * the address in the main table, tagged with our proto number.
 *
 * Routes are per address, not per jail: two jails banning one address share
 * its route (of the first jail's type), and the lift of one leaves it while
 * the other's ban, as this process knows it, is in force. The kernel keeps no
 * timeout: reconcile deletes the routes of bans that ended.
 *
 * Obligations: idempotent (a ban of a routed address, or a lift of an absent
 * one, succeeds); never throws from actuate but reports an outcome per
 * decision; a run of decisions is one `ip -force -batch -`, whose per-line
 * errors become each decision's; `ip` runs from an argv array, never a shell,
 * and only re-serialised addresses reach it; routes without our proto number
 * are never listed, replaced or deleted. Calls run one at a time in order.
 */
export class RouteActuator extends QueuedBackend {
  readonly name = 'route'
  private readonly jails: ReadonlyMap<string, RouteJail>
  private readonly order: readonly string[]
  private readonly proto: number
  private readonly prefix: readonly string[]
  private readonly now: () => number
  private readonly timeoutMs: number
  // Expiry (ms, null = permanent) of each jail's ban of each destination this process routed,
  // so a lift of one jail's ban keeps a route another jail still needs.
  private readonly book = new Map<string, Map<string, number | null>>()

  constructor(options: RouteActuatorOptions) {
    super()
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.order = options.jails.map((j) => j.jail)
    this.proto = routeProto(options.proto ?? DEFAULT_ROUTE_PROTO)
    this.prefix = options.command_prefix ?? []
    this.now = options.now ?? Date.now
    this.timeoutMs = options.command_timeout_ms ?? 30_000
  }

  /** Nothing to create: checks that our routes can be listed. */
  protected async setupNow(): Promise<StepResult> {
    const listed = await this.list([4])
    return 'error' in listed ? { ok: false, error: listed.error } : { ok: true }
  }

  /**
   * Makes our routes equal to `active`: a route for each ban in force (of the
   * first jail's type when jails share an address), none for anything else.
   * Repairs a route deleted by hand and removes those of ended bans.
   */
  reconcile(active: readonly BanIssued[]): Promise<ReconcileResult> {
    return this.queue.run(async () => {
      const now = this.now()
      const book = new Map<string, Map<string, number | null>>()
      for (const ban of active) {
        const target = this.locate(ban)
        if ('error' in target) continue
        if (banOver(ban, now)) continue
        const expires = ban.expires_at === null ? null : Date.parse(ban.expires_at)
        const holders = book.get(target.dst) ?? new Map<string, number | null>()
        const seen = holders.get(ban.jail)
        holders.set(ban.jail, seen === null || expires === null ? null : Math.max(expires, seen ?? expires))
        book.set(target.dst, holders)
      }
      const desired = new Map<string, RouteBlocktype>()
      for (const [dst, holders] of book) desired.set(dst, this.typeFor(holders.keys()))
      const listed = await this.list([4, 6])
      if ('error' in listed) return { ok: false, error: listed.error, added: 0, removed: 0 }
      const plan = routeReconcilePlan(listed.routes, desired)
      const errors = await this.batch(plan)
      if ('error' in errors) return { ok: false, error: errors.error, added: 0, removed: 0 }
      this.book.clear()
      for (const [dst, holders] of book) this.book.set(dst, holders)
      const failed = [...errors.byLine.entries()]
      const removed = plan.remove.filter((_, i) => !errors.byLine.has(i + 1)).length
      const added = plan.add.filter((_, i) => !errors.byLine.has(plan.remove.length + i + 1)).length
      if (failed.length > 0) return { ok: false, error: failed.map(([line, e]) => `line ${line}: ${e}`).join('; '), added, removed }
      return { ok: true, added, removed }
    })
  }

  protected async applyNow(bans: readonly BanIssued[]): Promise<ActuationOutcome[]> {
    const { outcomes, pending } = triage(bans, (b) => this.locate(b), this.now())
    if (pending.length > 0) {
      const listed = await this.list(families(pending))
      if ('error' in listed) {
        for (const p of pending) outcomes.set(p.decision, outcome(p.decision, 'failed', listed.error))
      } else {
        // An address already routed by us is banned; each other one gets one add, whatever number of bans name it.
        const adds = new Map<string, OwnedRoute>()
        for (const p of pending) if (!blocks(listed.routes, p.dst) && !adds.has(p.dst)) adds.set(p.dst, { dst: p.dst, type: p.jail.blocktype })
        const plan = { add: [...adds.values()], remove: [] }
        const result = await this.batch(plan)
        const lineOf = new Map(plan.add.map((r, i) => [r.dst, i + 1]))
        let recheck: Map<string, string> | undefined
        for (const p of pending) {
          const line = lineOf.get(p.dst)
          let error = 'error' in result ? result.error : line === undefined ? undefined : result.byLine.get(line)
          // Added by someone between our listing and our add: ours if a fresh listing shows it.
          if (error !== undefined && EXISTS.test(error)) {
            recheck ??= await this.relist(families(pending))
            if (blocks(recheck, p.dst)) error = undefined
          }
          if (error !== undefined) { outcomes.set(p.decision, outcome(p.decision, 'failed', error)); continue }
          outcomes.set(p.decision, outcome(p.decision, 'applied'))
          this.hold(p)
        }
      }
    }
    return bans.map((b) => outcomes.get(b)!)
  }

  protected async liftNow(lifts: readonly BanLifted[]): Promise<ActuationOutcome[]> {
    const now = this.now()
    const { outcomes, pending } = triage(lifts, (l) => this.locate(l), now)
    const deletes: string[] = []
    const waiting: typeof pending = []
    for (const p of pending) {
      const holders = this.book.get(p.dst)
      holders?.delete(p.decision.jail)
      const stillHeld = holders !== undefined && [...holders.values()].some((e) => e === null || e > now)
      if (stillHeld) { outcomes.set(p.decision, outcome(p.decision, 'removed')); continue }
      this.book.delete(p.dst)
      if (!deletes.includes(p.dst)) deletes.push(p.dst)
      waiting.push(p)
    }
    if (waiting.length > 0) {
      const result = await this.batch({ add: [], remove: deletes })
      for (const p of waiting) {
        const error = 'error' in result ? result.error : result.byLine.get(deletes.indexOf(p.dst) + 1)
        // The kernel answers ESRCH for a route that is not there: already unbanned.
        if (error !== undefined && !ABSENT.test(error)) outcomes.set(p.decision, outcome(p.decision, 'failed', error))
        else outcomes.set(p.decision, outcome(p.decision, 'removed'))
      }
    }
    return lifts.map((l) => outcomes.get(l)!)
  }

  private hold(p: Pending<BanIssued>): void {
    const holders = this.book.get(p.dst) ?? new Map<string, number | null>()
    const asked = p.decision.expires_at === null ? null : Date.parse(p.decision.expires_at)
    const seen = holders.get(p.jail.jail)
    holders.set(p.jail.jail, seen === null || asked === null ? null : Math.max(asked, seen ?? asked))
    this.book.set(p.dst, holders)
  }

  private typeFor(jails: Iterable<string>): RouteBlocktype {
    const holding = new Set(jails)
    const first = this.order.find((j) => holding.has(j))!
    return this.jails.get(first)!.blocktype
  }

  private locate(decision: Decision): { jail: RouteJail; family: 4 | 6; dst: string } | { error: string } {
    const jail = this.jails.get(decision.jail)
    if (!jail) return { error: `jail ${decision.jail} has no route action on this host` }
    try {
      return { jail, ...routeDestination(decision.ip) }
    } catch (err) {
      if (err instanceof RouteInputError) return { error: err.message }
      throw err
    }
  }

  private async list(fams: readonly (4 | 6)[]): Promise<{ routes: Map<string, string> } | StepFailure> {
    const routes = new Map<string, string>()
    for (const family of fams) {
      const result = await this.run(routeListArgv(family, this.proto))
      if (result.code !== 0) return { ok: false, error: toolError(result) }
      try {
        for (const [dst, type] of parseRouteListing(result.stdout)) routes.set(dst, type)
      } catch (err) {
        return { ok: false, error: `reading ip's route listing: ${(err as Error).message}` }
      }
    }
    return { routes }
  }

  private async relist(fams: readonly (4 | 6)[]): Promise<Map<string, string>> {
    const listed = await this.list(fams)
    return 'error' in listed ? new Map() : listed.routes
  }

  /** Runs a plan; a failed line is in byLine (1-based), a batch ip could not run at all is an error. */
  private async batch(plan: RoutePlan): Promise<{ byLine: Map<number, string> } | StepFailure> {
    if (plan.add.length + plan.remove.length === 0) return { byLine: new Map() }
    const result = await this.run(['ip', '-force', '-batch', '-'], routeBatch(plan, this.proto))
    if (result.code === 0) return { byLine: new Map() }
    const byLine = parseBatchErrors(result.stderr)
    if (result.code === null || byLine.size === 0) return { ok: false, error: toolError(result) }
    return { byLine }
  }

  private run(argv: readonly string[], input = ''): Promise<CommandResult> {
    return runCommand([...this.prefix, ...argv], input, this.timeoutMs)
  }
}

// Only a route of a blocking type bans its destination; another route tagged with our number is reconcile's to replace.
function blocks(routes: ReadonlyMap<string, string>, dst: string): boolean {
  return (ROUTE_BLOCKTYPES as readonly string[]).includes(routes.get(dst) ?? '')
}

function families(pending: readonly { family: 4 | 6 }[]): (4 | 6)[] {
  return ([4, 6] as const).filter((f) => pending.some((p) => p.family === f))
}
