import { NftablesActuator, type NftablesActuatorOptions } from '../../sinks/actuators/nftables-actuator.js'
import { nftablesJail, NftablesInputError, type NftablesJail } from '../../sinks/actuators/nftables-commands.js'
import { IpsetActuator, type IpsetActuatorOptions } from '../../sinks/actuators/ipset-actuator.js'
import { ipsetJail, IpsetInputError, type IpsetJail } from '../../sinks/actuators/ipset-commands.js'
import { readServices } from '../../sinks/actuators/services.js'
import type { RunJail } from './run-jails.js'

/** One action of a jail as this host carries it out. */
export interface JailAction {
  /**
   * 'nftables' / 'ipset': applied by the nftables or the ipset + iptables actuator;
   * 'dry-run': logged only (no backend for it yet, or --dry-run).
   */
  readonly backend: 'nftables' | 'ipset' | 'dry-run'
  /** As jail.conf names it, e.g. `nftables[port="ssh", protocol=tcp]`. */
  readonly text: string
}

/** The actions of every jail, and the actuator for those that have a backend here. */
export interface JailActions {
  of(jail: string): readonly JailAction[]
  /** Present when a jail has an nftables action and actions are not a dry-run. */
  readonly nftables?: NftablesActuator
  /** Present when a jail has an ipset/iptables action and actions are not a dry-run. */
  readonly ipset?: IpsetActuator
}

// fail2ban's nftables action files: nftables-allports is nftables with type=allports.
const NFTABLES_ACTIONS: Record<string, Record<string, string>> = {
  'nftables': {},
  'nftables-multiport': {},
  'nftables-allports': { type: 'allports' },
}

// fail2ban's iptables actions that the ipset backend carries out: the -ipset ones as they are, and
// iptables-multiport / -allports with a set in place of their per-address rules.
const IPSET_ACTIONS: Record<string, Record<string, string>> = {
  'iptables-ipset': {},
  'iptables-ipset-proto6': { type: 'multiport' },
  'iptables-ipset-proto6-allports': { type: 'allports' },
  'iptables-multiport': { type: 'multiport' },
  'iptables-allports': { type: 'allports' },
}

export interface JailActionsOptions {
  /** Log every action instead of running it. */
  readonly dryRun?: boolean
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
  /** For tests: run nft elsewhere (a network namespace) or under another table. */
  readonly nftables?: Omit<NftablesActuatorOptions, 'jails'>
  /** For tests: run ipset and iptables elsewhere (a network namespace). */
  readonly ipset?: Omit<IpsetActuatorOptions, 'jails'>
}

/**
 * Sorts each jail's actions into what this host applies and what it only
 * logs, and sets up the nftables table for the jails that have an nftables
 * action and the sets and chains for those with an ipset one (a jail gets at
 * most one action of each backend). A setup that fails (no nft, not root) is noted; the actuator is kept,
 * so each ban reports its own failure and a later ban retries the setup.
 */
export async function prepareJailActions(jails: readonly RunJail[], opts: JailActionsOptions): Promise<JailActions> {
  const byJail = new Map<string, JailAction[]>()
  const nftJails: NftablesJail[] = []
  const ipsetJails: IpsetJail[] = []
  let services: ReadonlyMap<string, number> | undefined
  for (const jail of jails) {
    const actions: JailAction[] = []
    jail.config.actions.forEach((ref, i) => {
      const text = jail.actions[i]!
      const ipsetExtra = IPSET_ACTIONS[ref.name]
      if (!opts.dryRun && ipsetExtra !== undefined && !ipsetJails.some((j) => j.jail === jail.config.name)) {
        try {
          services ??= readServices()
          ipsetJails.push(ipsetJail(jail.config.name, { ...ref.args, ...ipsetExtra }, services))
          actions.push({ backend: 'ipset', text })
        } catch (error) {
          if (!(error instanceof IpsetInputError)) throw error
          opts.note('error', `${error.message}; the action ${text} is logged, not applied`)
          actions.push({ backend: 'dry-run', text })
        }
        return
      }
      const extra = NFTABLES_ACTIONS[ref.name]
      if (opts.dryRun || extra === undefined || nftJails.some((j) => j.jail === jail.config.name)) {
        actions.push({ backend: 'dry-run', text })
        return
      }
      try {
        services ??= readServices()
        nftJails.push(nftablesJail(jail.config.name, { ...ref.args, ...extra }, services))
        actions.push({ backend: 'nftables', text })
      } catch (error) {
        if (!(error instanceof NftablesInputError)) throw error
        opts.note('error', `${error.message}; the action ${text} is logged, not applied`)
        actions.push({ backend: 'dry-run', text })
      }
    })
    byJail.set(jail.config.name, actions)
  }
  const of = (jail: string) => byJail.get(jail) ?? []
  let nftables: NftablesActuator | undefined
  if (nftJails.length > 0) {
    nftables = new NftablesActuator({ ...opts.nftables, jails: nftJails })
    const setup = await nftables.setup()
    if (!setup.ok) opts.note('error', `nftables: setting up the table failed (${setup.error}); bans of ${nftJails.map((j) => j.jail).join(', ')} will fail until it works`)
  }
  let ipset: IpsetActuator | undefined
  if (ipsetJails.length > 0) {
    ipset = new IpsetActuator({ ...opts.ipset, jails: ipsetJails })
    const setup = await ipset.setup()
    if (!setup.ok) opts.note('error', `ipset: setting up the sets and chains failed (${setup.error}); bans of ${ipsetJails.map((j) => j.jail).join(', ')} will fail until it works`)
  }
  return { of, ...(nftables ? { nftables } : {}), ...(ipset ? { ipset } : {}) }
}
