import { NftablesActuator, type NftablesActuatorOptions } from '../../sinks/actuators/nftables-actuator.js'
import { nftablesJail, NftablesInputError, type NftablesJail } from '../../sinks/actuators/nftables-commands.js'
import { readServices } from '../../sinks/actuators/services.js'
import type { RunJail } from './run-jails.js'

/** One action of a jail as this host carries it out. */
export interface JailAction {
  /** 'nftables': applied by the nftables actuator; 'dry-run': logged only (no backend for it yet, or --dry-run). */
  readonly backend: 'nftables' | 'dry-run'
  /** As jail.conf names it, e.g. `nftables[port="ssh", protocol=tcp]`. */
  readonly text: string
}

/** The actions of every jail, and the actuator for those that have a backend here. */
export interface JailActions {
  of(jail: string): readonly JailAction[]
  /** Present when a jail has an nftables action and actions are not a dry-run. */
  readonly nftables?: NftablesActuator
}

// fail2ban's nftables action files: nftables-allports is nftables with type=allports.
const NFTABLES_ACTIONS: Record<string, Record<string, string>> = {
  'nftables': {},
  'nftables-multiport': {},
  'nftables-allports': { type: 'allports' },
}

export interface JailActionsOptions {
  /** Log every action instead of running it. */
  readonly dryRun?: boolean
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
  /** For tests: run nft elsewhere (a network namespace) or under another table. */
  readonly nftables?: Omit<NftablesActuatorOptions, 'jails'>
}

/**
 * Sorts each jail's actions into what this host applies and what it only
 * logs, and sets up the nftables table for the jails that have an nftables
 * action. A setup that fails (no nft, not root) is noted; the actuator is kept,
 * so each ban reports its own failure and a later ban retries the setup.
 */
export async function prepareJailActions(jails: readonly RunJail[], opts: JailActionsOptions): Promise<JailActions> {
  const byJail = new Map<string, JailAction[]>()
  const nftJails: NftablesJail[] = []
  let services: ReadonlyMap<string, number> | undefined
  for (const jail of jails) {
    const actions: JailAction[] = []
    jail.config.actions.forEach((ref, i) => {
      const text = jail.actions[i]!
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
  if (nftJails.length === 0) return { of }
  const nftables = new NftablesActuator({ ...opts.nftables, jails: nftJails })
  const setup = await nftables.setup()
  if (!setup.ok) opts.note('error', `nftables: setting up the table failed (${setup.error}); bans of ${nftJails.map((j) => j.jail).join(', ')} will fail until it works`)
  return { of, nftables }
}
