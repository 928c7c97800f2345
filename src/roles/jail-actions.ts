import type { ActuatorBackend } from '../../sinks/actuators/actuator-backend.js'
import type { Reference } from '../config/reference.js'
import { ACTION_BACKENDS, type ActionBackendKind, type ActionBackendOptions } from './action-backends.js'
import type { RunJail } from './run-jails.js'

/** One action of a jail as this host carries it out. */
export interface JailAction {
  /** The key of the backend in JailActions.backends that applies it, or 'dry-run': logged only (no backend for it, or --dry-run). */
  readonly backend: string
  /** As jail.conf names it, e.g. `nftables[port="ssh", protocol=tcp]`. */
  readonly text: string
}

/** The actions of every jail, and the backends that carry them out on this host. */
export interface JailActions {
  of(jail: string): readonly JailAction[]
  /** By the key JailAction.backend names; empty for a dry run. */
  readonly backends: ReadonlyMap<string, ActuatorBackend>
}

export interface JailActionsOptions extends ActionBackendOptions {
  /** Log every action instead of running it. */
  readonly dryRun?: boolean
  readonly note: (level: 'info' | 'warn' | 'error', message: string) => void
}

/** The jails of one backend, gathered before it is built. */
interface Gathered {
  readonly kind: ActionBackendKind<unknown>
  readonly jails: unknown[]
  readonly names: string[]
}

/**
 * Sorts each jail's actions into what this host applies and what it only
 * logs, and builds and sets up one backend per kind (per action file for the
 * kinds that run one) for the jails that use it. A jail gets at most one
 * action of each backend. An action whose arguments a backend refuses (a bad
 * port) is logged, not applied. A setup that fails (no nft, not root) is
 * noted; the backend is kept, so each ban reports its own failure and a later
 * setup retries.
 */
export async function prepareJailActions(jails: readonly RunJail[], opts: JailActionsOptions): Promise<JailActions> {
  const byJail = new Map<string, JailAction[]>()
  const gathered = new Map<string, Gathered>()
  for (const jail of jails) {
    const actions: JailAction[] = []
    jail.config.actions.forEach((ref, i) => {
      const text = jail.actions[i]!
      const claimed = opts.dryRun ? undefined : claim(ref, jail.configDir)
      const taken = claimed && gathered.get(claimed.key)?.names.includes(jail.config.name)
      if (claimed === undefined || taken) {
        actions.push({ backend: 'dry-run', text })
        return
      }
      const { kind, key } = claimed
      try {
        const settings = kind.jail({ jail: jail.config, ref, configDir: jail.configDir })
        const entry = gathered.get(key) ?? { kind, jails: [], names: [] }
        entry.jails.push(settings)
        entry.names.push(jail.config.name)
        gathered.set(key, entry)
        actions.push({ backend: key, text })
      } catch (error) {
        if (!(error instanceof kind.InputError)) throw error
        opts.note('error', `${error.message}; the action ${text} is logged, not applied`)
        actions.push({ backend: 'dry-run', text })
      }
    })
    byJail.set(jail.config.name, actions)
  }
  const backends = new Map<string, ActuatorBackend>()
  for (const [key, { kind, jails: settings, names }] of gathered) {
    const backend = kind.create(settings, opts)
    backends.set(key, backend)
    const setup = await backend.setup()
    if (!setup.ok) opts.note('error', `${key}: setting up failed (${setup.error}); bans of ${names.join(', ')} will fail until it works`)
  }
  return { of: (jail) => byJail.get(jail) ?? [], backends }
}

function claim(ref: Reference, configDir: string): { kind: ActionBackendKind<unknown>; key: string } | undefined {
  for (const kind of ACTION_BACKENDS) {
    const key = kind.claims(ref, configDir)
    if (key !== undefined) return { kind, key }
  }
  return undefined
}
