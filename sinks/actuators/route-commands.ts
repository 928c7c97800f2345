import { formatAddress, parseAddress } from '../../schemas/events/address.js'

/**
 * The commands of the route backend, fail2ban's action.d/route.conf: a ban is
 * a route of type unreachable, blackhole or prohibit to the address (or
 * network), so the host's replies to it go nowhere. Nothing here runs a
 * command: every function turns validated input into `ip -batch` input or an
 * argv, so what reaches `ip` is exactly what the tests read. Addresses are
 * re-serialised; anything else throws RouteInputError.
 *
 * Ownership: every route of ours carries a routing protocol number of its own
 * (`proto 201` by default) in the main table. The main table is where the
 * kernel looks without any `ip rule`, so a ban works at once; the proto number
 * is the tag that lets a listing (`ip route show proto 201`) and a delete
 * (`ip route del <dst> proto 201`, which the kernel matches on proto) see and
 * touch only our routes, never a route of the system, DHCP or a routing daemon
 * to the same prefix. A table of our own would need an `ip rule` to be
 * consulted, one more piece of state to keep.
 *
 * Expiry: routes have no timeout in the kernel. A ban ends when its lift
 * arrives or when reconciliation (every 60 s in run and actuate) finds it no
 * longer in force and deletes its route.
 */

/** Thrown for input that must not reach `ip`: a bad jail name, block type, proto number or address. */
export class RouteInputError extends Error {
  readonly code = 'BANSTREAM_ERR_ROUTE_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'RouteInputError'
  }
}

/** The route types fail2ban's blocktype may name: each drops what the host sends to the address. */
export const ROUTE_BLOCKTYPES = ['unreachable', 'blackhole', 'prohibit'] as const
export type RouteBlocktype = (typeof ROUTE_BLOCKTYPES)[number]

/** The routing protocol number that marks our routes, unless the actuator is told another. */
export const DEFAULT_ROUTE_PROTO = 201

/** One jail's route action, validated. */
export interface RouteJail {
  readonly jail: string
  /** The type of the jail's routes; fail2ban's `blocktype`, default unreachable. */
  readonly blocktype: RouteBlocktype
}

/** A route of ours: its destination (canonical address or network) and type. */
export interface OwnedRoute {
  readonly dst: string
  readonly type: RouteBlocktype
}

/** What makes the routes equal to the bans: `remove` first (by destination), then `add`. */
export interface RoutePlan {
  readonly add: readonly OwnedRoute[]
  readonly remove: readonly string[]
}

const JAIL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/

/**
 * A jail's route action from its jail.conf arguments: `blocktype`
 * (unreachable, blackhole or prohibit; default unreachable, as route.conf).
 */
export function routeJail(jail: string, args: Readonly<Record<string, string>>): RouteJail {
  if (!JAIL.test(jail)) throw new RouteInputError(`jail name ${JSON.stringify(jail)}: letters, digits, '_' and '-' only`)
  const blocktype = (args['blocktype'] ?? 'unreachable').trim().toLowerCase()
  if (!(ROUTE_BLOCKTYPES as readonly string[]).includes(blocktype)) {
    throw new RouteInputError(`jail ${jail}: blocktype ${JSON.stringify(args['blocktype'])} is not one of ${ROUTE_BLOCKTYPES.join(', ')}`)
  }
  return { jail, blocktype: blocktype as RouteBlocktype }
}

/** Checks a proto number: 0-4 are the kernel's own (unspec, redirect, kernel, boot, static). */
export function routeProto(proto: number): number {
  if (!Number.isInteger(proto) || proto < 5 || proto > 255) throw new RouteInputError(`route proto ${proto}: an integer in 5..255`)
  return proto
}

/** The canonical destination of a ban: the address, or the network it names. */
export function routeDestination(ip: string): { readonly family: 4 | 6; readonly dst: string } {
  const address = parseAddress(ip)
  // A /0 would be a default route: banning everyone is not a ban.
  if (!address || address.prefix === 0) throw new RouteInputError(`${JSON.stringify(ip)} is not an address or network that can be banned`)
  return { family: address.family, dst: formatAddress(address) }
}

/** `ip -force -batch -` input for a plan: one line per route, deletions first (their line numbers are 1…). */
export function routeBatch(plan: RoutePlan, proto: number): string {
  routeProto(proto)
  const lines = [
    ...plan.remove.map((dst) => `route del ${routeDestination(dst).dst} proto ${proto}`),
    ...plan.add.map((r) => {
      if (!(ROUTE_BLOCKTYPES as readonly string[]).includes(r.type)) throw new RouteInputError(`route type ${JSON.stringify(r.type)}`)
      return `route add ${r.type} ${routeDestination(r.dst).dst} proto ${proto}`
    }),
  ]
  return lines.map((l) => `${l}\n`).join('')
}

/** The argv listing our routes of one family in the main table, as JSON. */
export function routeListArgv(family: 4 | 6, proto: number): string[] {
  return ['ip', '-j', family === 4 ? '-4' : '-6', 'route', 'show', 'table', 'main', 'proto', String(routeProto(proto))]
}

/**
 * Our routes from `ip -j route show … proto N` output: destination → type.
 * Routes of other types (a unicast route someone tagged with our number) are
 * listed too, so that reconciliation replaces them.
 */
export function parseRouteListing(json: string): Map<string, string> {
  const routes = new Map<string, string>()
  const text = json.trim()
  if (text === '') return routes
  const parsed: unknown = JSON.parse(text)
  if (!Array.isArray(parsed)) throw new RouteInputError('ip -j route show did not print a list')
  for (const entry of parsed as unknown[]) {
    if (typeof entry !== 'object' || entry === null) continue
    const { dst, type } = entry as { dst?: unknown; type?: unknown }
    if (typeof dst !== 'string' || dst === 'default') continue
    const address = parseAddress(dst)
    if (!address) continue
    routes.set(formatAddress(address), typeof type === 'string' ? type : 'unicast')
  }
  return routes
}

/**
 * The errors of `ip -force -batch -` by input line number. ip prints a line's
 * own message(s) and then `Command failed -:N`; messages before a line's
 * marker belong to it.
 */
export function parseBatchErrors(stderr: string): Map<number, string> {
  const errors = new Map<number, string>()
  let pending: string[] = []
  for (const raw of stderr.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const failed = /^Command failed -:(\d+)$/.exec(line)
    if (failed) {
      errors.set(Number(failed[1]), pending.join('; ') || 'failed')
      pending = []
    } else {
      pending.push(line)
    }
  }
  return errors
}

/**
 * What makes our routes equal to `desired` (destination → type): routes no
 * ban asks for are removed, missing ones added, and one of the wrong type
 * removed and added again.
 */
export function routeReconcilePlan(current: ReadonlyMap<string, string>, desired: ReadonlyMap<string, RouteBlocktype>): RoutePlan {
  const add: OwnedRoute[] = []
  const remove: string[] = []
  for (const [dst, type] of current) if (desired.get(dst) !== type) remove.push(dst)
  for (const [dst, type] of desired) if (current.get(dst) !== type) add.push({ dst, type })
  return { add, remove }
}
