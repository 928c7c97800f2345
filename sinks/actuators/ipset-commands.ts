import { addressBits, formatAddress, parseAddress } from '../../schemas/events/address.js'
import { nftablesJail, NftablesInputError, type PortRange } from './nftables-commands.js'
import type { ServiceTable } from './services.js'

/**
 * The commands of the ipset + iptables/ip6tables actuator, as text or argv.
 * Nothing here runs a command: every function turns validated input into
 * `ipset restore` input, `iptables-restore --noflush` input or an argv, so
 * what reaches the firewall is exactly what the tests read. Names, ports and
 * block types are checked and addresses re-serialised before they are
 * written; anything else throws IpsetInputError.
 *
 * Layout, per jail (`name` defaults to the jail's name), as fail2ban's
 * iptables-ipset action but with a chain of our own:
 *
 *     ipset  bs-sshd       hash:ip  family inet  timeout 0   (an element's own timeout; 0 = until unbanned)
 *     ipset  bs-sshd-net   hash:net family inet  timeout 0   (networks)
 *     ipset  bs-sshd-v6 / bs-sshd-net6                       the same for IPv6
 *     iptables  -N bs-sshd; -A bs-sshd -p tcp -m multiport --dports 22 -m set --match-set bs-sshd src -j <blocktype>
 *               (a rule per set) -I INPUT 1 -j bs-sshd      (and the same with ip6tables and the IPv6 sets)
 *
 * Addresses and networks live in separate sets, as fail2ban's hash:ip sets do
 * for addresses and a hash:ip set would take a /16 as 65536 entries.
 *
 * The chain holds the whole match, so a change of ports rewrites only it
 * (atomically, with iptables-restore), and the jump from INPUT never changes.
 */

/** Thrown for input that must not reach ipset or iptables: a bad name, port, protocol, block type or address. */
export class IpsetInputError extends Error {
  readonly code = 'BANSTREAM_ERR_IPSET_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'IpsetInputError'
  }
}

/** One jail's ipset action, validated. */
export interface IpsetJail {
  readonly jail: string
  /** Names the sets and the chain (`bs-<name>`); fail2ban's `name`, the jail's name by default. */
  readonly name: string
  /** The destination ports banned, merged and sorted; null = every port. */
  readonly ports: readonly PortRange[] | null
  /** The transport protocols banned; null = every protocol (`protocol = all`, allports only). */
  readonly protocols: readonly string[] | null
  /** The chains that jump to the jail's chain; fail2ban's `chain` (comma-separated), default INPUT. */
  readonly chains: readonly string[]
  /** The iptables target for a banned packet, as argv after `-j`, for IPv4 and for IPv6. */
  readonly blocktype: { readonly 4: readonly string[]; readonly 6: readonly string[] }
  /** The most addresses one set holds (ipset `maxelem`); a ban past it fails. Default 65536. */
  readonly maxelem: number
}

/** A single address to ban; `timeout_secs` null = until unbanned. */
export interface IpsetBan {
  readonly jail: IpsetJail
  readonly ip: string
  readonly timeout_secs: number | null
}

/** An address to take out of its jail's set. */
export interface IpsetUnban {
  readonly jail: IpsetJail
  readonly ip: string
}

/** The elements of each set: set name → address → seconds left (null = no timeout). */
export type IpsetSetContents = Map<string, Map<string, number | null>>

/** What ipsetReconcileScript found to change; `script` is '' when nothing differs. */
export interface IpsetReconcilePlan {
  readonly script: string
  readonly add: readonly IpsetBan[]
  readonly remove: readonly { readonly set: string; readonly element: string }[]
}

/** The kernel's largest element timeout (fail2ban's timeout-bantime bound); longer bans are stored without one. */
export const IPSET_MAX_TIMEOUT_SECS = 2_147_483

// ipset names hold at most 31 characters and iptables chains 28: `bs-` + name + `-net6` must fit both.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,21}$/
const JAIL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/
const CHAIN = /^[A-Za-z][A-Za-z0-9_-]{0,27}$/
const MULTIPORT_PROTOCOLS = new Set(['tcp', 'udp', 'udplite', 'sctp', 'dccp'])
// multiport takes at most 15 ports per rule; a range counts as two.
const MULTIPORT_SLOTS = 15
const REJECT_V4 = new Set(['icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-port-unreachable', 'icmp-proto-unreachable',
  'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited'])
// A jail states one blocktype; ip6tables gets the ICMPv6 message closest to the ICMP one.
const REJECT_V6: Record<string, string> = {
  'icmp-net-unreachable': 'icmp6-no-route', 'icmp-host-unreachable': 'icmp6-addr-unreachable',
  'icmp-port-unreachable': 'icmp6-port-unreachable', 'icmp-proto-unreachable': 'icmp6-port-unreachable',
  'icmp-net-prohibited': 'icmp6-adm-prohibited', 'icmp-host-prohibited': 'icmp6-adm-prohibited',
  'icmp-admin-prohibited': 'icmp6-adm-prohibited',
}

/**
 * A jail's ipset action from its jail.conf arguments, as fail2ban's
 * action.d/iptables-ipset*.conf and iptables-multiport/-allports read them:
 * `name` (default the jail), `port` (numbers, `a:b` ranges, service names;
 * default ssh), `protocol` (comma-separated; `all` with allports only;
 * default tcp), `chain` (comma-separated; default INPUT), `blocktype`
 * (DROP, REJECT or `REJECT --reject-with <icmp type|tcp-reset>`; default
 * REJECT --reject-with icmp-port-unreachable, icmp6-port-unreachable for
 * IPv6), `type` (oneport and multiport alike, or allports), `maxelem`.
 * A value `<known/...>` (jail.conf's `chain = <known/chain>`) asks for the
 * action's default.
 */
export function ipsetJail(jail: string, given: Readonly<Record<string, string>>, services: ServiceTable): IpsetJail {
  const args = Object.fromEntries(Object.entries(given).filter(([, v]) => !/^<known\/[A-Za-z0-9_-]+>$/.test(v.trim())))
  if (!JAIL.test(jail)) throw new IpsetInputError(`jail name ${JSON.stringify(jail)}: letters, digits, '_' and '-' only`)
  const name = args['name'] ?? jail
  if (!NAME.test(name)) {
    throw new IpsetInputError(`jail ${jail}: name ${JSON.stringify(name)} cannot name an ipset: up to 22 letters, digits, '_' and '-'`)
  }
  const type = args['type'] ?? 'multiport'
  if (type !== 'oneport' && type !== 'multiport' && type !== 'allports') {
    throw new IpsetInputError(`jail ${jail}: type ${JSON.stringify(type)} is not oneport, multiport or allports`)
  }
  let parsed
  try {
    parsed = nftablesJail(jail, { type: type === 'allports' ? 'allports' : 'multiport', port: args['port'] ?? 'ssh', protocol: args['protocol'] ?? 'tcp', blocktype: 'drop' }, services)
  } catch (err) {
    if (err instanceof NftablesInputError) throw new IpsetInputError(err.message)
    throw err
  }
  const { ports, protocols } = parsed
  if (ports !== null && protocols === null) throw new IpsetInputError(`jail ${jail}: protocol all matches no port: name the protocols, or use allports`)
  if (ports !== null && protocols!.some((p) => !MULTIPORT_PROTOCOLS.has(p))) {
    throw new IpsetInputError(`jail ${jail}: ports need protocols of ${[...MULTIPORT_PROTOCOLS].join(', ')}`)
  }
  const chains = [...new Set((args['chain'] ?? 'INPUT').split(',').map((c) => c.trim()).filter((c) => c !== ''))]
  if (chains.length === 0) throw new IpsetInputError(`jail ${jail}: empty chain`)
  for (const c of chains) if (!CHAIN.test(c)) throw new IpsetInputError(`jail ${jail}: invalid chain name ${JSON.stringify(c)}`)
  const maxelem = Number(args['maxelem'] ?? '65536')
  if (!Number.isInteger(maxelem) || maxelem < 1 || maxelem > 2 ** 31 - 1) {
    throw new IpsetInputError(`jail ${jail}: maxelem ${JSON.stringify(args['maxelem'])} is not a positive integer`)
  }
  return { jail, name, ports, protocols, chains, blocktype: parseBlocktype(jail, args['blocktype'], protocols), maxelem }
}

function parseBlocktype(jail: string, text: string | undefined, protocols: readonly string[] | null): IpsetJail['blocktype'] {
  if (text === undefined) {
    return { 4: ['REJECT', '--reject-with', 'icmp-port-unreachable'], 6: ['REJECT', '--reject-with', 'icmp6-port-unreachable'] }
  }
  const words = text.trim().split(/\s+/)
  const target = words[0]?.toUpperCase()
  if (words.length === 1 && (target === 'DROP' || target === 'REJECT')) return { 4: [target], 6: [target] }
  const how = words[2]?.toLowerCase()
  if (target === 'REJECT' && words.length === 3 && words[1] === '--reject-with' && how !== undefined) {
    if (REJECT_V4.has(how)) return { 4: ['REJECT', '--reject-with', how], 6: ['REJECT', '--reject-with', REJECT_V6[how]!] }
    if (how === 'tcp-reset' && protocols?.length === 1 && protocols[0] === 'tcp') {
      return { 4: ['REJECT', '--reject-with', how], 6: ['REJECT', '--reject-with', how] }
    }
  }
  throw new IpsetInputError(
    `jail ${jail}: blocktype ${JSON.stringify(text)} is not DROP, REJECT, REJECT --reject-with <${[...REJECT_V4].join('|')}>, ` +
    'or REJECT --reject-with tcp-reset (protocol tcp only)',
  )
}

/** The set holding a jail's addresses (hash:ip), or networks (hash:net), of one family. */
export function ipsetSetName(jail: IpsetJail, family: 4 | 6, network = false): string {
  return `bs-${jail.name}${network ? (family === 4 ? '-net' : '-net6') : (family === 4 ? '' : '-v6')}`
}

const SETS = [{ family: 4, network: false }, { family: 4, network: true }, { family: 6, network: false }, { family: 6, network: true }] as const

function jailSets(jail: IpsetJail): { name: string; family: 4 | 6; network: boolean }[] {
  return SETS.map((s) => ({ ...s, name: ipsetSetName(jail, s.family, s.network) }))
}

/** The jail's own iptables (and ip6tables) chain. */
export function ipsetChainName(jail: IpsetJail): string {
  return `bs-${jail.name}`
}

/** `ipset -exist restore` input creating every jail's sets if missing. */
export function ipsetCreateScript(jails: readonly IpsetJail[]): string {
  return jails.flatMap((j) => jailSets(j).map((set) =>
    `create ${set.name} hash:${set.network ? 'net' : 'ip'} family ${set.family === 4 ? 'inet' : 'inet6'} timeout 0 maxelem ${j.maxelem}\n`)).join('')
}

/** `ipset -exist restore` input emptying every jail's sets. */
export function ipsetFlushScript(jails: readonly IpsetJail[]): string {
  return jails.flatMap((j) => jailSets(j).map((set) => `flush ${set.name}\n`)).join('')
}

/** `ipset -exist restore` input destroying every jail's sets (after their rules are gone). */
export function ipsetDestroyScript(jails: readonly IpsetJail[]): string {
  return jails.flatMap((j) => jailSets(j).map((set) => `destroy ${set.name}\n`)).join('')
}

function portGroups(ports: readonly PortRange[]): string[] {
  const groups: string[] = []
  let current: string[] = []
  let slots = 0
  for (const r of ports) {
    const cost = r.from === r.to ? 1 : 2
    if (slots + cost > MULTIPORT_SLOTS) { groups.push(current.join(',')); current = []; slots = 0 }
    current.push(r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`)
    slots += cost
  }
  groups.push(current.join(','))
  return groups
}

/** The rules of a jail's chain for one family, as iptables argv after `-A <chain>`: one per set, protocol and port group. */
export function ipsetChainRules(jail: IpsetJail, family: 4 | 6): string[][] {
  return [false, true].flatMap((network) => {
    const jump = ['-m', 'set', '--match-set', ipsetSetName(jail, family, network), 'src', '-j', ...jail.blocktype[family]]
    if (jail.protocols === null) return [jump]
    return jail.protocols.flatMap((proto) => jail.ports === null
      ? [['-p', proto, ...jump]]
      : portGroups(jail.ports).map((ports) => ['-p', proto, '-m', 'multiport', '--dports', ports, ...jump]))
  })
}

/**
 * `iptables-restore --noflush` (or ip6tables-restore) input that creates each
 * jail's chain, or empties it, and fills it with the jail's rules, in one
 * commit; other chains are left as they are.
 */
export function chainRestoreScript(jails: readonly IpsetJail[], family: 4 | 6): string {
  const lines = ['*filter']
  for (const j of jails) lines.push(`:${ipsetChainName(j)} - [0:0]`)
  for (const j of jails) lines.push(`-F ${ipsetChainName(j)}`)
  for (const j of jails) for (const rule of ipsetChainRules(j, family)) lines.push(`-A ${ipsetChainName(j)} ${rule.join(' ')}`)
  lines.push('COMMIT')
  return lines.join('\n') + '\n'
}

/** The jumps into a jail's chain, as iptables argv after `-C`, `-I` or `-D`: one per chain of `chain`. */
export function jumpRules(jail: IpsetJail): string[][] {
  return jail.chains.map((c) => [c, '-j', ipsetChainName(jail)])
}

/** Where a ban of `ip` lives: its set, family and the address's (or network's) canonical text. */
export function ipsetElement(jail: IpsetJail, ip: string): { readonly set: string; readonly family: 4 | 6; readonly text: string } {
  const address = parseAddress(ip)
  // hash:net refuses a /0; banning everyone is not a ban.
  if (!address || address.prefix === 0) throw new IpsetInputError(`${JSON.stringify(ip)} is not an address or network that can be banned`)
  const network = address.prefix < addressBits(address.family)
  return { set: ipsetSetName(jail, address.family, network), family: address.family, text: formatAddress(address) }
}

function timeoutOf(timeoutSecs: number | null): number {
  if (timeoutSecs === null || timeoutSecs > IPSET_MAX_TIMEOUT_SECS) return 0
  if (!Number.isInteger(timeoutSecs) || timeoutSecs < 1) throw new IpsetInputError(`invalid timeout ${timeoutSecs}: whole seconds, at least 1`)
  return timeoutSecs
}

/**
 * `ipset -exist restore` input banning addresses, one line each (the line
 * number ipset names on an error is the ban's index + 1): each ends up in its
 * set with exactly its timeout, whether or not it was there (with -exist an
 * add of a present address sets its timeout). Null, or past
 * IPSET_MAX_TIMEOUT_SECS, = timeout 0, until unbanned.
 */
export function ipsetBanScript(bans: readonly IpsetBan[]): string {
  return bans.map((b) => {
    const e = ipsetElement(b.jail, b.ip)
    return `add ${e.set} ${e.text} timeout ${timeoutOf(b.timeout_secs)}\n`
  }).join('')
}

/** `ipset -exist restore` input unbanning addresses, one line each; an absent address is no error. */
export function ipsetUnbanScript(unbans: readonly IpsetUnban[]): string {
  return unbans.map((u) => {
    const e = ipsetElement(u.jail, u.ip)
    return `del ${e.set} ${e.text}\n`
  }).join('')
}

/** The sets and elements of `ipset save` output; element texts are canonical addresses. */
export function parseIpsetSave(text: string): IpsetSetContents {
  const contents: IpsetSetContents = new Map()
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/)
    if (words[0] === 'create' && words[1] !== undefined) {
      if (!contents.has(words[1])) contents.set(words[1], new Map())
      continue
    }
    if (words[0] !== 'add' || words[1] === undefined || words[2] === undefined) continue
    let set = contents.get(words[1])
    if (!set) contents.set(words[1], set = new Map())
    const at = words.indexOf('timeout', 3)
    const timeout = at === -1 ? null : Number(words[at + 1])
    const address = parseAddress(words[2])
    set.set(address ? formatAddress(address) : words[2], timeout === null || timeout === 0 || Number.isNaN(timeout) ? null : timeout)
  }
  return contents
}

/**
 * What makes the jails' sets hold exactly `desired`: addresses missing, or
 * whose time left differs from the desired timeout by more than
 * `tolerance_secs` (or timed where they should not be, or the other way
 * round), are (re-)added; addresses no ban asks for are deleted. Sets of other
 * jails, and other tools' sets, are left alone.
 */
export function ipsetReconcileScript(
  jails: readonly IpsetJail[],
  current: IpsetSetContents,
  desired: readonly IpsetBan[],
  tolerance_secs = 5,
): IpsetReconcilePlan {
  const wanted = new Map<string, Map<string, IpsetBan>>()
  for (const ban of desired) {
    const e = ipsetElement(ban.jail, ban.ip)
    let set = wanted.get(e.set)
    if (!set) wanted.set(e.set, set = new Map())
    set.set(e.text, ban)
  }
  const add: IpsetBan[] = []
  const remove: { set: string; element: string }[] = []
  for (const jail of jails) {
    for (const { name } of jailSets(jail)) {
      const have = current.get(name) ?? new Map<string, number | null>()
      const want = wanted.get(name) ?? new Map<string, IpsetBan>()
      for (const [text, ban] of want) {
        if (!have.has(text)) { add.push(ban); continue }
        const left = have.get(text)!
        const timeout = timeoutOf(ban.timeout_secs) || null
        const stale = left === null || timeout === null ? left !== timeout : Math.abs(left - timeout) > tolerance_secs
        if (stale) add.push(ban)
      }
      for (const text of have.keys()) {
        if (want.has(text)) continue
        const address = parseAddress(text)
        if (!address) throw new IpsetInputError(`set ${name} holds ${JSON.stringify(text)}, which is not an address`)
        remove.push({ set: name, element: formatAddress(address) })
      }
    }
  }
  const script = remove.map((r) => `del ${r.set} ${r.element}\n`).join('') + ipsetBanScript(add)
  return { script, add, remove }
}
