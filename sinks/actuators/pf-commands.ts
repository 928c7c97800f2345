import { formatAddress, parseAddress } from '../../schemas/events/address.js'
import { nftablesJail, NftablesInputError, type PortRange } from './nftables-commands.js'
import type { ServiceTable } from './services.js'

/**
 * The commands of the pf backend (OpenBSD / FreeBSD pfctl), fail2ban's
 * action.d/pf.conf: per jail, a persistent table `f2b-<name>` and one block
 * rule in the anchor `f2b/<name>`, which the operator's pf.conf includes with
 * `anchor "f2b/*"`. Nothing here runs a command: every function turns
 * validated input into an argv or pfctl input, so what reaches pfctl is
 * exactly what the tests read. Names, ports, protocols and the block action
 * are checked and addresses re-serialised; anything else throws PfInputError.
 *
 *     pfctl -a f2b/sshd -f -                    table <f2b-sshd> persist counters
 *                                               block quick proto tcp from <f2b-sshd> to any port { 22 }
 *     pfctl -a f2b/sshd -t f2b-sshd -T add -f -      addresses, one a line, on stdin
 *     pfctl -a f2b/sshd -t f2b-sshd -T delete -f -
 *     pfctl -a f2b/sshd -t f2b-sshd -T show
 *
 * fail2ban loads the table and the rule with two `pfctl -f-`; one load holds
 * both here. Reloading the anchor keeps the table's addresses: a table
 * defined without an address list leaves a live table's contents alone.
 * Addresses go to pfctl on stdin (`-f -`) rather than as arguments, so a
 * batch of any size is one command. pf tables keep no timeouts: a ban ends
 * with its lift or when reconciliation finds it over.
 */

/** Thrown for input that must not reach pfctl: a bad name, port, protocol, block action or address. */
export class PfInputError extends Error {
  readonly code = 'BANSTREAM_ERR_PF_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'PfInputError'
  }
}

/** One jail's pf action, validated. */
export interface PfJail {
  readonly jail: string
  /** Names the anchor (`f2b/<name>`) and the table; fail2ban's `name`, the jail's name by default. */
  readonly name: string
  /** The table's name prefix; fail2ban's `tablename`, default f2b. */
  readonly tablename: string
  /** The destination ports blocked, merged and sorted; null = every port. */
  readonly ports: readonly PortRange[] | null
  /** The protocols blocked; null = every protocol (`protocol = all`). */
  readonly protocols: readonly string[] | null
  /** The rule's action words: fail2ban's `block`, default `block quick`. */
  readonly block: string
}

// pf table names hold at most 31 characters: `<tablename>-<name>` must fit.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/
const JAIL = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/
const TABLE_MAX = 31
// pf's grammar: block [drop | return | return-rst | return-icmp | return-icmp6] [in | out] [log] [quick].
const BLOCK = /^block( (drop|return|return-rst|return-icmp|return-icmp6))?( (in|out))?( log)?( quick)?$/
const PORT_PROTOCOLS = new Set(['tcp', 'udp'])

/**
 * A jail's pf action from its jail.conf arguments, as fail2ban's
 * action.d/pf.conf reads them: `name` (default the jail), `tablename`
 * (default f2b), `port` (numbers, `a:b` ranges, service names; default ssh),
 * `protocol` (tcp, udp, … comma-separated, or all; default tcp), `block`
 * (default `block quick`), `actiontype` (`<multiport>`, the default, blocks
 * the ports; `<allports>` every port).
 */
export function pfJail(jail: string, args: Readonly<Record<string, string>>, services: ServiceTable): PfJail {
  if (!JAIL.test(jail)) throw new PfInputError(`jail name ${JSON.stringify(jail)}: letters, digits, '_' and '-' only`)
  const name = args['name'] ?? jail
  const tablename = args['tablename'] ?? 'f2b'
  for (const [what, value] of [['name', name], ['tablename', tablename]] as const) {
    if (!NAME.test(value)) throw new PfInputError(`jail ${jail}: ${what} ${JSON.stringify(value)}: letters, digits, '_' and '-' only`)
  }
  if (tablename.length + 1 + name.length > TABLE_MAX) {
    throw new PfInputError(`jail ${jail}: table ${tablename}-${name} is longer than pf's ${TABLE_MAX} characters`)
  }
  const actiontype = (args['actiontype'] ?? '<multiport>').trim().replace(/^<(.*)>$/, '$1')
  if (actiontype !== 'multiport' && actiontype !== 'allports') {
    throw new PfInputError(`jail ${jail}: actiontype ${JSON.stringify(args['actiontype'])} is not <multiport> or <allports>`)
  }
  let parsed
  try {
    // pf.conf takes a port list in braces as it is (`port="{ssh, smtp}"`).
    const port = (args['port'] ?? 'ssh').trim().replace(/^\{(.*)\}$/s, '$1')
    parsed = nftablesJail(jail, { type: actiontype, port, protocol: args['protocol'] ?? 'tcp', blocktype: 'drop' }, services)
  } catch (err) {
    if (err instanceof NftablesInputError) throw new PfInputError(err.message)
    throw err
  }
  const { ports, protocols } = parsed
  if (ports !== null && (protocols === null || protocols.some((p) => !PORT_PROTOCOLS.has(p)))) {
    throw new PfInputError(`jail ${jail}: pf matches ports for tcp and udp only: name those protocols, or use actiontype=<allports>`)
  }
  const block = (args['block'] ?? 'block quick').trim().replace(/\s+/g, ' ')
  if (!BLOCK.test(block)) throw new PfInputError(`jail ${jail}: block ${JSON.stringify(args['block'])} is not a pf block action`)
  return { jail, name, tablename, ports, protocols, block }
}

/** The anchor holding a jail's table and rule. */
export function pfAnchor(jail: PfJail): string {
  return `f2b/${jail.name}`
}

/** The table of a jail's banned addresses and networks. */
export function pfTable(jail: PfJail): string {
  return `${jail.tablename}-${jail.name}`
}

/** The anchor's ruleset, for `pfctl -a <anchor> -f -`: the table and the jail's block rule. */
export function pfRuleset(jail: PfJail): string {
  const table = `<${pfTable(jail)}>`
  const proto = jail.protocols === null ? '' : jail.protocols.length === 1 ? ` proto ${jail.protocols[0]}` : ` proto { ${jail.protocols.join(' ')} }`
  const port = jail.ports === null ? '' : ` port { ${jail.ports.map((r) => (r.from === r.to ? `${r.from}` : `${r.from}:${r.to}`)).join(' ')} }`
  return `table ${table} persist counters\n${jail.block}${proto} from ${table} to any${port}\n`
}

/** The argv loading a jail's ruleset (given on stdin) into its anchor. */
export function pfLoadArgv(jail: PfJail, pfctl = 'pfctl'): string[] {
  return [pfctl, '-a', pfAnchor(jail), '-f', '-']
}

/** The argv of a table command: add or delete (addresses on stdin, see pfAddresses) or show. */
export function pfTableArgv(jail: PfJail, command: 'add' | 'delete' | 'show', pfctl = 'pfctl'): string[] {
  const argv = [pfctl, '-a', pfAnchor(jail), '-t', pfTable(jail), '-T', command]
  return command === 'show' ? argv : [...argv, '-f', '-']
}

/** The canonical text of an address or network to ban; a /0 or anything else is refused. */
export function pfAddress(ip: string): string {
  const address = parseAddress(ip)
  // A /0 in a block table would block everyone.
  if (!address || address.prefix === 0) throw new PfInputError(`${JSON.stringify(ip)} is not an address or network that can be banned`)
  return formatAddress(address)
}

/** pfctl's stdin for `-T add|delete -f -`: re-serialised addresses, one a line. */
export function pfAddresses(ips: readonly string[]): string {
  return ips.map((ip) => `${pfAddress(ip)}\n`).join('')
}
