import { addressBits, formatAddress, parseAddress, type Address } from '../../schemas/events/address.js'
import type { ServiceTable } from './services.js'

/**
 * The nft scripts of the nftables actuator, as text for `nft -f -`. Nothing
 * here runs a command: every function turns validated input into a script, so
 * what reaches the firewall is exactly what the tests read. Every name, port
 * and address is checked or re-serialised before it is written; anything else
 * throws NftablesInputError.
 *
 * Layout, in one table of family inet:
 *
 *     table inet banstream
 *       set sshd-v4      { type ipv4_addr; flags timeout; }            single addresses
 *       set sshd-v4-net  { type ipv4_addr; flags interval,timeout; }   networks
 *       set sshd-v6 / sshd-v6-net                                      the same for IPv6
 *       chain input { type filter hook input priority -1; policy accept; }
 *         ip saddr @sshd-v4 tcp dport { 22 } reject   (one rule per set)
 *
 * Addresses and networks live in separate sets because an interval set refuses
 * an element that overlaps another (a /24 and an address in it), while a hash
 * set of addresses takes any number of them quickly.
 */

/** Thrown for input that must not reach nft: a bad name, port, protocol, block type or address. */
export class NftablesInputError extends Error {
  readonly code = 'BANSTREAM_ERR_NFTABLES_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'NftablesInputError'
  }
}

export type ChainHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'
const HOOKS: readonly ChainHook[] = ['prerouting', 'input', 'forward', 'output', 'postrouting']

/** Where the actuator's rules live. */
export interface NftablesTable {
  /** The table, of family inet, holding every jail's sets and the chain. Default `banstream`. */
  readonly table: string
  /** The base chain the rules go to. Default `input`. */
  readonly chain: string
  /** The netfilter hook of the chain. Default `input`. */
  readonly hook: ChainHook
  /** The chain's priority; below 0 runs before the usual filter chains (fail2ban uses -1). Default -1. */
  readonly priority: number
  /** The most elements one set may hold (nft `size`); absent = no limit. A ban past it fails. */
  readonly set_size?: number
}

export const DEFAULT_NFTABLES_TABLE: NftablesTable = { table: 'banstream', chain: 'input', hook: 'input', priority: -1 }

/** An inclusive port range; a single port has from === to. */
export interface PortRange {
  readonly from: number
  readonly to: number
}

/** One jail's nftables action, validated. */
export interface NftablesJail {
  readonly jail: string
  /** The destination ports banned, merged and sorted; null = every port. */
  readonly ports: readonly PortRange[] | null
  /** The transport protocols banned; null = every protocol (`protocol = all`). */
  readonly protocols: readonly string[] | null
  /** The nft verdict for a banned packet: `drop`, `reject`, `reject with ...`. */
  readonly blocktype: string
}

/** An address or network to ban in a jail's set; `timeout_secs` null = until unbanned. */
export interface NftablesBan {
  readonly jail: string
  readonly ip: string
  readonly timeout_secs: number | null
}

/** An address or network to take out of a jail's set. */
export interface NftablesUnban {
  readonly jail: string
  readonly ip: string
}

/** The elements of each set of the table: set name → element text → seconds left (null = no timeout). */
export type NftablesSetContents = Map<string, Map<string, number | null>>

/** What reconcileScript found to change; `script` is '' when nothing differs. */
export interface NftablesReconcilePlan {
  readonly script: string
  readonly add: readonly NftablesBan[]
  readonly remove: readonly { readonly set: string; readonly element: string }[]
}

/** nft refuses a timeout literal past eight digits of seconds (about 3.2 years). */
export const MAX_TIMEOUT_SECS = 99_999_999

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/
// A jail may start with a digit (fail2ban ships [3proxy]); nft names may not, so such a jail's
// sets get a leading '_', which no jail name has: the mapping stays one to one.
const JAIL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/
const SERVICE = /^[A-Za-z][A-Za-z0-9._+-]{0,63}$/
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'udplite', 'sctp', 'dccp'])
const ICMPX_TYPES = new Set(['host-unreachable', 'port-unreachable', 'admin-prohibited', 'no-route'])
const ELEMENTS_PER_STATEMENT = 1000

/** Checks a table's settings, filling defaults. */
export function nftablesTable(options: Partial<NftablesTable> = {}): NftablesTable {
  const table = { ...DEFAULT_NFTABLES_TABLE, ...options }
  if (!NAME.test(table.table)) throw new NftablesInputError(`invalid nftables table name ${JSON.stringify(table.table)}`)
  if (!NAME.test(table.chain)) throw new NftablesInputError(`invalid nftables chain name ${JSON.stringify(table.chain)}`)
  if (!HOOKS.includes(table.hook)) throw new NftablesInputError(`invalid chain hook ${JSON.stringify(table.hook)}: one of ${HOOKS.join(', ')}`)
  if (!Number.isInteger(table.priority) || Math.abs(table.priority) > 1000) {
    throw new NftablesInputError(`invalid chain priority ${table.priority}: an integer in -1000..1000`)
  }
  if (table.set_size !== undefined && !(Number.isInteger(table.set_size) && table.set_size > 0)) {
    throw new NftablesInputError(`invalid set size ${table.set_size}: a positive integer`)
  }
  return table
}

/**
 * A jail's nftables action from its jail.conf arguments, as fail2ban's
 * action.d/nftables.conf reads them: `port` (numbers, `a:b` ranges, service
 * names; default ssh), `protocol` (tcp, udp, ... or `all`, comma-separated;
 * default tcp), `blocktype` (default reject), `type` (multiport, or allports
 * for every port). Other arguments (chain, name, ...) do not apply: the table
 * settings place the chain and sets are named after the jail.
 */
export function nftablesJail(jail: string, args: Readonly<Record<string, string>>, services: ServiceTable): NftablesJail {
  checkJail(jail)
  const type = args['type'] ?? 'multiport'
  if (type !== 'multiport' && type !== 'allports') {
    throw new NftablesInputError(`jail ${jail}: nftables type ${JSON.stringify(type)} is not supported (multiport or allports)`)
  }
  const protocols = parseProtocols(jail, args['protocol'] ?? 'tcp')
  const ports = type === 'allports' ? null : parsePorts(jail, args['port'] ?? 'ssh', services)
  const blocktype = parseBlocktype(jail, args['blocktype'] ?? 'reject', protocols)
  return { jail, ports, protocols, blocktype }
}

function checkJail(jail: string): void {
  if (!JAIL.test(jail)) {
    throw new NftablesInputError(`jail name ${JSON.stringify(jail)} cannot name an nftables set: letters, digits, '_' and '-' only`)
  }
}

function parseProtocols(jail: string, text: string): readonly string[] | null {
  const items = [...new Set(text.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== ''))]
  if (items.length === 1 && items[0] === 'all') return null
  if (items.length === 0) throw new NftablesInputError(`jail ${jail}: empty protocol`)
  for (const p of items) {
    if (!PORT_PROTOCOLS.has(p)) {
      throw new NftablesInputError(`jail ${jail}: protocol ${JSON.stringify(p)} is not one of ${[...PORT_PROTOCOLS].join(', ')} or all`)
    }
  }
  return items
}

function parsePort(jail: string, text: string, services: ServiceTable): number {
  if (/^\d{1,5}$/.test(text)) {
    const n = Number(text)
    if (n <= 65535) return n
  } else if (SERVICE.test(text)) {
    const n = services.get(text)
    if (n !== undefined) return n
    throw new NftablesInputError(`jail ${jail}: unknown service name ${JSON.stringify(text)} in port`)
  }
  throw new NftablesInputError(`jail ${jail}: invalid port ${JSON.stringify(text)}`)
}

function parsePorts(jail: string, text: string, services: ServiceTable): readonly PortRange[] | null {
  const ranges: PortRange[] = []
  for (const raw of text.split(',')) {
    const item = raw.trim()
    if (item === '') continue
    // fail2ban writes ranges a:b; a-b is read too, but only between numbers, as service names hold '-'.
    const m = /^([^:]+):([^:]+)$/.exec(item) ?? /^(\d+)-(\d+)$/.exec(item)
    const from = parsePort(jail, m ? m[1]!.trim() : item, services)
    const to = m ? parsePort(jail, m[2]!.trim(), services) : from
    if (from > to) throw new NftablesInputError(`jail ${jail}: port range ${JSON.stringify(item)} runs backwards`)
    ranges.push({ from, to })
  }
  if (ranges.length === 0) throw new NftablesInputError(`jail ${jail}: empty port`)
  ranges.sort((a, b) => a.from - b.from)
  // nft refuses overlapping members of an anonymous set, so merge them.
  const merged: PortRange[] = []
  for (const r of ranges) {
    const last = merged[merged.length - 1]
    if (last && r.from <= last.to + 1) merged[merged.length - 1] = { from: last.from, to: Math.max(last.to, r.to) }
    else merged.push(r)
  }
  const only = merged[0]!
  return merged.length === 1 && only.from === 0 && only.to === 65535 ? null : merged
}

function parseBlocktype(jail: string, text: string, protocols: readonly string[] | null): string {
  const t = text.trim().replace(/\s+/g, ' ').toLowerCase()
  if (t === 'drop' || t === 'reject') return t
  const icmpx = /^reject with icmpx type ([a-z-]+)$/.exec(t)
  if (icmpx && ICMPX_TYPES.has(icmpx[1]!)) return t
  if (t === 'reject with tcp reset' && protocols?.length === 1 && protocols[0] === 'tcp') return t
  throw new NftablesInputError(
    `jail ${jail}: blocktype ${JSON.stringify(text)} is not drop, reject, reject with icmpx type <${[...ICMPX_TYPES].join('|')}>, ` +
    'or reject with tcp reset (protocol tcp only)',
  )
}

/** The set holding a jail's addresses (or networks) of one family. */
export function nftablesSetName(jail: string, family: 4 | 6, network: boolean): string {
  checkJail(jail)
  const base = /^[0-9]/.test(jail) ? `_${jail}` : jail
  return `${base}-v${family}${network ? '-net' : ''}`
}

function jailSets(jail: string): { name: string; family: 4 | 6; network: boolean }[] {
  return [4, 6].flatMap((family) => [false, true].map((network) => ({
    name: nftablesSetName(jail, family as 4 | 6, network), family: family as 4 | 6, network,
  })))
}

function portList(ports: readonly PortRange[]): string {
  return ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}-${r.to}`)).join(', ')
}

/** The rule's match on protocol and port, fail2ban's rule_match-multiport / -allports. */
function transportMatch(jail: NftablesJail): string {
  const { ports, protocols } = jail
  if (protocols === null) return ports === null ? '' : ` th dport { ${portList(ports)} }`
  if (ports === null) return ` meta l4proto { ${protocols.join(', ')} }`
  if (protocols.length === 1) return ` ${protocols[0]} dport { ${portList(ports)} }`
  return ` meta l4proto { ${protocols.join(', ')} } th dport { ${portList(ports)} }`
}

/**
 * Creates the table, chain and every jail's sets if missing, and replaces the
 * chain's rules with the jails' rules, in one transaction: run again after a
 * change of ports, or after another tool flushed or deleted the table.
 * Elements already in the sets stay.
 */
export function setupScript(table: NftablesTable, jails: readonly NftablesJail[]): string {
  const t = nftablesTable(table)
  const at = `inet ${t.table}`
  const size = t.set_size === undefined ? '' : ` size ${t.set_size};`
  const lines = [
    `add table ${at}`,
    `add chain ${at} ${t.chain} { type filter hook ${t.hook} priority ${t.priority}; policy accept; }`,
  ]
  const rules: string[] = []
  for (const jail of jails) {
    const match = transportMatch(jail)
    for (const set of jailSets(jail.jail)) {
      const flags = set.network ? 'interval, timeout' : 'timeout'
      lines.push(`add set ${at} ${set.name} { type ipv${set.family}_addr; flags ${flags};${size} }`)
      rules.push(`add rule ${at} ${t.chain} ${set.family === 4 ? 'ip' : 'ip6'} saddr @${set.name}${match} ${jail.blocktype}`)
    }
  }
  lines.push(`flush chain ${at} ${t.chain}`, ...rules)
  return lines.join('\n') + '\n'
}

/** Empties every set of the jails; the table, chain and rules stay. */
export function flushScript(table: NftablesTable, jails: readonly NftablesJail[]): string {
  const t = nftablesTable(table)
  return jails.flatMap((j) => jailSets(j.jail).map((s) => `flush set inet ${t.table} ${s.name}\n`)).join('')
}

/** Removes the table with its chain, rules and sets; succeeds when it is already gone. */
export function teardownScript(table: NftablesTable): string {
  const t = nftablesTable(table)
  // Adding first makes the delete succeed when the table is absent.
  return `add table inet ${t.table}\ndelete table inet ${t.table}\n`
}

type Element = ReturnType<typeof nftablesElement>

function addressOf(ip: string): Address {
  const address = parseAddress(ip)
  if (!address || address.prefix === 0) throw new NftablesInputError(`${JSON.stringify(ip)} is not an address or network that can be banned`)
  return address
}

/**
 * Where a ban of `ip` in `jail` lives: its set and the element's canonical
 * text. Throws NftablesInputError for a jail name or address that cannot be written.
 */
export function nftablesElement(jail: string, ip: string): { readonly set: string; readonly text: string } {
  const address = addressOf(ip)
  const network = address.prefix < addressBits(address.family)
  return { set: nftablesSetName(jail, address.family, network), text: formatAddress(address) }
}

function timeoutSuffix(timeoutSecs: number | null): string {
  if (timeoutSecs === null || timeoutSecs > MAX_TIMEOUT_SECS) return ''
  if (!Number.isInteger(timeoutSecs) || timeoutSecs < 1) {
    throw new NftablesInputError(`invalid timeout ${timeoutSecs}: whole seconds, at least 1`)
  }
  return ` timeout ${timeoutSecs}s`
}

/** Groups items by set, keeping the last item for an element listed twice. */
function bySet<T extends { element: Element }>(items: readonly T[]): Map<string, Map<string, T>> {
  const sets = new Map<string, Map<string, T>>()
  for (const item of items) {
    let set = sets.get(item.element.set)
    if (!set) sets.set(item.element.set, set = new Map())
    set.delete(item.element.text)
    set.set(item.element.text, item)
  }
  return sets
}

function elementStatements(verb: 'add' | 'delete', at: string, set: string, elements: readonly string[]): string {
  let out = ''
  for (let i = 0; i < elements.length; i += ELEMENTS_PER_STATEMENT) {
    out += `${verb} element ${at} ${set} { ${elements.slice(i, i + ELEMENTS_PER_STATEMENT).join(', ')} }\n`
  }
  return out
}

function elementsBanScript(t: NftablesTable, items: readonly { element: Element; timeoutSecs: number | null }[]): string {
  const at = `inet ${t.table}`
  let out = ''
  for (const [set, elements] of bySet(items)) {
    const plain = [...elements.keys()]
    // add + delete + add in one transaction: whether or not the element was there, and on any
    // kernel, it ends up with exactly the new timeout (a bare add keeps an old one on older kernels).
    out += elementStatements('add', at, set, plain)
    out += elementStatements('delete', at, set, plain)
    out += elementStatements('add', at, set, [...elements.values()].map((e) => `${e.element.text}${timeoutSuffix(e.timeoutSecs)}`))
  }
  return out
}

function elementsUnbanScript(t: NftablesTable, items: readonly { element: Element }[]): string {
  const at = `inet ${t.table}`
  let out = ''
  for (const [set, elements] of bySet(items)) {
    const plain = [...elements.keys()]
    // The add makes the delete of an absent element succeed instead of failing the batch.
    out += elementStatements('add', at, set, plain)
    out += elementStatements('delete', at, set, plain)
  }
  return out
}

/**
 * Bans addresses, one transaction for all: each ends up in its jail's set with
 * exactly its timeout (whole seconds; null, or past MAX_TIMEOUT_SECS, = no
 * timeout, to be lifted by an unban), whether or not it was there before.
 */
export function banScript(table: NftablesTable, bans: readonly NftablesBan[]): string {
  const t = nftablesTable(table)
  return elementsBanScript(t, bans.map((b) => ({ element: nftablesElement(b.jail, b.ip), timeoutSecs: b.timeout_secs })))
}

/** Unbans addresses, one transaction for all; an address not in its set is no error. */
export function unbanScript(table: NftablesTable, unbans: readonly NftablesUnban[]): string {
  const t = nftablesTable(table)
  return elementsUnbanScript(t, unbans.map((u) => ({ element: nftablesElement(u.jail, u.ip) })))
}

type NftJson = { nftables?: unknown[] }
type NftElem = string | { prefix?: { addr: string; len: number }; range?: [string, string]; elem?: { val: unknown; expires?: number } }

function elementText(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (value && typeof value === 'object') {
    const v = value as Exclude<NftElem, string>
    if (v.prefix) return `${v.prefix.addr}/${v.prefix.len}`
    if (v.range) return `${v.range[0]}-${v.range[1]}`
  }
  return null
}

/**
 * The sets and elements of `nft -j list table inet <table>` (or `list set`):
 * element texts are canonical addresses or networks, ranges stay `a-b`.
 */
export function parseSetListing(json: string): NftablesSetContents {
  const parsed = JSON.parse(json) as NftJson
  const contents: NftablesSetContents = new Map()
  for (const item of parsed.nftables ?? []) {
    const set = (item as { set?: { name: string; elem?: NftElem[] } }).set
    if (!set) continue
    const elements = new Map<string, number | null>()
    for (const e of set.elem ?? []) {
      const wrapped = typeof e === 'object' && e.elem !== undefined
      const text = elementText(wrapped ? (e as { elem: { val: unknown } }).elem.val : e)
      if (text === null) continue
      const expires = wrapped ? (e as { elem: { expires?: number } }).elem.expires : undefined
      const parsedAddress = parseAddress(text)
      elements.set(parsedAddress ? formatAddress(parsedAddress) : text, expires ?? null)
    }
    contents.set(set.name, elements)
  }
  return contents
}

/** An element read back from nft, validated before it is written into a delete. */
function listedElement(set: string, text: string): Element {
  const range = /^([^-]+)-([^-]+)$/.exec(text)
  const parts = range ? [range[1]!, range[2]!] : [text]
  const canonical = parts.map((p) => {
    const a = parseAddress(p)
    if (!a) throw new NftablesInputError(`set ${set} holds ${JSON.stringify(text)}, which is not an address`)
    return formatAddress(a)
  })
  return { set, text: canonical.join('-') }
}

/**
 * What makes the jails' sets hold exactly `desired`: elements missing, or
 * whose time left differs from the desired timeout by more than
 * `tolerance_secs` (or that are timed where they should not be, or the other
 * way round), are (re-)added; elements no ban asks for are removed. Sets of
 * other jails are left alone.
 */
export function reconcileScript(
  table: NftablesTable,
  jails: readonly NftablesJail[],
  current: NftablesSetContents,
  desired: readonly NftablesBan[],
  tolerance_secs = 5,
): NftablesReconcilePlan {
  const t = nftablesTable(table)
  const wanted = bySet(desired.map((b) => ({ ban: b, element: nftablesElement(b.jail, b.ip) })))
  const add: { ban: NftablesBan; element: Element }[] = []
  const remove: Element[] = []
  for (const jail of jails) {
    for (const { name } of jailSets(jail.jail)) {
      const have = current.get(name) ?? new Map<string, number | null>()
      const want = wanted.get(name) ?? new Map()
      for (const [text, item] of want) {
        const timeout = item.ban.timeout_secs === null || item.ban.timeout_secs > MAX_TIMEOUT_SECS ? null : item.ban.timeout_secs
        if (!have.has(text)) { add.push(item); continue }
        const left = have.get(text)!
        const stale = left === null || timeout === null ? left !== timeout : Math.abs(left - timeout) > tolerance_secs
        if (stale) add.push(item)
      }
      for (const text of have.keys()) if (!want.has(text)) remove.push(listedElement(name, text))
    }
  }
  const script = elementsUnbanScript(t, remove.map((element) => ({ element }))) +
    elementsBanScript(t, add.map((a) => ({ element: a.element, timeoutSecs: a.ban.timeout_secs })))
  return { script, add: add.map((a) => a.ban), remove: remove.map((e) => ({ set: e.set, element: e.text })) }
}
