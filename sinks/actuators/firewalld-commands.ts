import { addressBits, formatAddress, parseAddress } from '../../schemas/events/address.js'
import { ipsetChainRules, ipsetJail, IpsetInputError, ipsetSetName, type IpsetJail } from './ipset-commands.js'
import type { ServiceTable } from './services.js'

/**
 * The commands of the firewalld backend, as argv for firewall-cmd. Nothing
 * here runs a command; names, ports, protocols and block types are checked
 * (by the ipset backend's reading of the same arguments) and addresses
 * re-serialised before they are written; anything else throws
 * FirewalldInputError.
 *
 * Layout, per jail, as fail2ban's firewallcmd-ipset with `ipsetbackend =
 * firewalld` (ipsets that firewalld owns, so they survive its reloads):
 *
 *     firewall-cmd --permanent --new-ipset=f2b-sshd --type=hash:ip --option=timeout=0 --option=maxelem=65536
 *     … f2b-sshd6 (family inet6), f2b-sshd-net / f2b-sshd-net6 (hash:net, for banned networks)
 *     firewall-cmd --direct --add-rule ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 22
 *                  -m set --match-set f2b-sshd src -j REJECT --reject-with icmp-port-unreachable
 *     firewall-cmd --ipset=f2b-sshd --add-entry=192.0.2.7
 *
 * fail2ban's default `ipsetbackend = ipset` (sets made with the ipset tool,
 * which firewalld does not know and a reload of it does not keep) is carried
 * out the same way: `ipsetbackend`, `ipsettime` and `default-ipsettime` are
 * not read.
 *
 * fail2ban writes `--direct --new-ipset`, which firewall-cmd refuses: a new
 * ipset is permanent only and reaches the running firewall at a reload, so
 * setup creates missing sets with --permanent and reloads once. Entries are
 * runtime only, as fail2ban's; firewall-cmd gives an entry no timeout, so a
 * ban ends with its lift or at the next reconcile after it is over.
 *
 * fail2ban's firewallcmd-multiport, -new and -allports put one direct rule
 * per banned address in a chain of their own; here they are the same rule
 * over the jail's sets, keeping their match of new connections
 * (`-m conntrack --ctstate NEW`, `-m state --state NEW`) and ports.
 */

/** Thrown for input that must not reach firewall-cmd: a bad name, port, protocol, block type or address. */
export class FirewalldInputError extends Error {
  readonly code = 'BANSTREAM_ERR_FIREWALLD_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'FirewalldInputError'
  }
}

/** One jail's firewalld action, validated: the ipset backend's reading of the arguments, and the new-connection match. */
export interface FirewalldJail extends IpsetJail {
  /** The match before the rule's own (fail2ban's -multiport and -new actions); empty for -ipset and -allports. */
  readonly state_match: readonly string[]
}

/** fail2ban's firewalld actions this backend carries out, and what each adds to the jail's arguments. */
export const FIREWALLD_ACTIONS: Readonly<Record<string, { readonly type?: string; readonly state_match: readonly string[] }>> = {
  'firewallcmd-ipset': { state_match: [] },
  'firewallcmd-multiport': { type: 'multiport', state_match: ['-m', 'conntrack', '--ctstate', 'NEW'] },
  'firewallcmd-new': { type: 'multiport', state_match: ['-m', 'state', '--state', 'NEW'] },
  'firewallcmd-allports': { type: 'allports', state_match: [] },
}

export type FirewalldFamily = 'ipv4' | 'ipv6'

/** One of a jail's sets: its name, type and family. */
export interface FirewalldSet {
  readonly name: string
  readonly type: 'hash:ip' | 'hash:net'
  readonly family: 4 | 6
}

/** A direct rule: firewall-cmd's words after `--direct --add-rule` (and as `--get-all-rules` prints them). */
export type DirectRule = readonly string[]

/**
 * A jail's firewalld action from its jail.conf arguments, as fail2ban's
 * action.d/firewallcmd-*.conf read them: `name`, `port`, `protocol`,
 * `chain` (default INPUT_direct), `blocktype` (default REJECT
 * --reject-with <rejecttype>, icmp-port-unreachable / icmp6-port-unreachable),
 * `rejecttype`, `actiontype` (<multiport> or <allports>, firewallcmd-ipset),
 * `maxelem`. `action` is the action.d file name, a key of FIREWALLD_ACTIONS.
 */
export function firewalldJail(jail: string, action: string, given: Readonly<Record<string, string>>, services: ServiceTable): FirewalldJail {
  const kind = FIREWALLD_ACTIONS[action]
  if (!kind) throw new FirewalldInputError(`${JSON.stringify(action)} is not a firewalld action of this backend`)
  const args: Record<string, string> = { chain: 'INPUT_direct', ...given }
  const actiontype = given['actiontype']?.trim().replace(/^<(.*)>$/, '$1')
  if (actiontype !== undefined && actiontype !== 'multiport' && actiontype !== 'allports') {
    throw new FirewalldInputError(`jail ${jail}: actiontype ${JSON.stringify(given['actiontype'])} is not <multiport> or <allports>`)
  }
  if (actiontype !== undefined) args['type'] = actiontype
  if (kind.type !== undefined) args['type'] = kind.type
  delete args['actiontype']
  if (given['blocktype'] === undefined && given['rejecttype'] !== undefined) args['blocktype'] = `REJECT --reject-with ${given['rejecttype']}`
  try {
    return { ...ipsetJail(jail, args, services), state_match: kind.state_match }
  } catch (err) {
    if (err instanceof IpsetInputError) throw new FirewalldInputError(err.message)
    throw err
  }
}

/** The set holding a jail's addresses (hash:ip) or networks (hash:net) of one family: fail2ban's f2b-<name>, f2b-<name>6. */
export function firewalldSetName(jail: FirewalldJail, family: 4 | 6, network = false): string {
  return `f2b-${jail.name}${network ? '-net' : ''}${family === 6 ? '6' : ''}`
}

/** Every set of a jail. */
export function firewalldSets(jail: FirewalldJail): FirewalldSet[] {
  return ([4, 6] as const).flatMap((family) => [false, true].map((network) => ({
    name: firewalldSetName(jail, family, network), type: network ? 'hash:net' as const : 'hash:ip' as const, family,
  })))
}

/** The argv creating a set in firewalld's permanent configuration (a reload brings it to the running firewall). */
export function newIpsetArgv(set: FirewalldSet, maxelem: number): string[] {
  return ['firewall-cmd', '--permanent', `--new-ipset=${set.name}`, `--type=${set.type}`, '--option=timeout=0', `--option=maxelem=${maxelem}`,
    ...(set.family === 6 ? ['--option=family=inet6'] : [])]
}

/** The direct rules of a jail: one per family, set, protocol and group of ports, in each of its chains. */
export function directRules(jail: FirewalldJail): DirectRule[] {
  return ([4, 6] as const).flatMap((family) => {
    const names = new Map([false, true].map((network) => [ipsetSetName(jail, family, network), firewalldSetName(jail, family, network)]))
    return ipsetChainRules(jail, family).flatMap((rule) => {
      const matched = rule.map((word) => names.get(word) ?? word)
      return jail.chains.map((chain) => [family === 4 ? 'ipv4' : 'ipv6', 'filter', chain, '0', ...jail.state_match, ...matched])
    })
  })
}

/** Whether a direct rule matches one of the jail's sets: such a rule that directRules does not list is a stale one of ours. */
export function isJailRule(jail: FirewalldJail, rule: DirectRule): boolean {
  const sets = new Set(firewalldSets(jail).map((s) => s.name))
  const at = rule.indexOf('--match-set')
  return at !== -1 && sets.has(rule[at + 1] ?? '') && rule[at + 2] === 'src'
}

/** The rules `firewall-cmd --direct --get-all-rules` prints, as words. */
export function parseDirectRules(text: string): DirectRule[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => l.split(/\s+/))
}

/** The argv adding or removing one direct rule. */
export function directRuleArgv(change: 'add' | 'remove', rule: DirectRule): string[] {
  return ['firewall-cmd', '--direct', `--${change}-rule`, ...rule]
}

/** Where a ban of `ip` goes: its set and the address's (or network's) canonical text; a /0 or a non-address is refused. */
export function firewalldEntry(jail: FirewalldJail, ip: string): { readonly set: string; readonly entry: string } {
  const address = parseAddress(ip)
  if (!address || address.prefix === 0) throw new FirewalldInputError(`${JSON.stringify(ip)} is not an address or network that can be banned`)
  return { set: firewalldSetName(jail, address.family, address.prefix < addressBits(address.family)), entry: formatAddress(address) }
}

/** The argv adding or removing entries of one set; firewall-cmd runs one change per entry and reports each. */
export function entriesArgv(change: 'add' | 'remove', set: string, entries: readonly string[]): string[] {
  for (const e of entries) {
    const address = parseAddress(e)
    if (!address || formatAddress(address) !== e) throw new FirewalldInputError(`${JSON.stringify(e)} is not a canonical address`)
  }
  return ['firewall-cmd', `--ipset=${set}`, ...entries.map((e) => `--${change}-entry=${e}`)]
}

// firewall-cmd's answers that mean the entry already is as asked.
const SETTLED = new Set(['ALREADY_ENABLED', 'NOT_ENABLED'])

/**
 * Which entries of one firewall-cmd --add-entry/--remove-entry call failed,
 * and why. With several entries firewall-cmd goes on past a failure and warns
 * (`Warning: INVALID_ENTRY: Entry '192.0.2.0/25' overlaps …`), naming the
 * entry first; with one it stops with `Error: …` and a non-zero exit code.
 * ALREADY_ENABLED and NOT_ENABLED are success. A failure naming no entry
 * (no such set, firewalld not running) is every entry's.
 */
export function entryFailures(entries: readonly string[], code: number | null, stderr: string): Map<string, string> {
  const failures = new Map<string, string>()
  const unattributed: string[] = []
  for (const raw of stderr.split('\n')) {
    const line = raw.trim()
    const m = /^(?:Warning|Error): ([A-Z_]+)\b/.exec(line)
    if (!m) {
      if (line !== '') unattributed.push(line)
      continue
    }
    if (SETTLED.has(m[1]!)) continue
    const named = /'([^']*)'/.exec(line)?.[1]
    const address = named === undefined ? null : parseAddress(named)
    const entry = address ? formatAddress(address) : undefined
    if (entry !== undefined && entries.includes(entry)) failures.set(entry, line)
    else unattributed.push(line)
  }
  if (code !== 0 && failures.size === 0) {
    const error = unattributed.join('; ') || stderr.trim() || `exited with code ${code}`
    for (const e of entries) failures.set(e, error)
  }
  return failures
}
