import type { JailPolicySettings } from '../config/jail-policy.js'
import { jailPolicy, type JailPolicy } from '../../streams/decide-policy.js'
import { HostResolver } from './host-resolver.js'
import { selfAddresses } from './self-addresses.js'

export interface ResolvePoliciesOptions {
  /** Resolves ignoreip host names; defaults to a new HostResolver (the system resolver). */
  readonly resolver?: HostResolver
  /** The host's own addresses for ignoreself; defaults to selfAddresses() with the same resolver. */
  readonly self?: () => Promise<string[]>
  /** Told of each host name that gave no address: the jail then runs without it, as fail2ban does. */
  readonly warn: (msg: string) => void
}

/**
 * The jails' policies with their ignoreip host names resolved and, where
 * ignoreself is on, the host's own addresses added to ignoreip. Names are
 * looked up once for all jails and the host's addresses found once. The
 * addresses are those of this moment: call again (on reload) to follow DNS.
 * Throws what jailPolicy() throws for an option out of range.
 */
export async function resolveJailPolicies(settings: readonly JailPolicySettings[], opts: ResolvePoliciesOptions): Promise<JailPolicy[]> {
  const resolver = opts.resolver ?? new HostResolver()
  const names = [...new Set(settings.flatMap((s) => s.ignore_hosts))]
  const needSelf = settings.some((s) => s.ignore_self)
  const self = opts.self ?? (() => selfAddresses({ resolver, warn: opts.warn }))
  const [resolutions, own] = await Promise.all([
    Promise.all(names.map((name) => resolver.resolve(name))),
    needSelf ? self() : Promise.resolve([]),
  ])
  const byName = new Map(resolutions.map((r) => [r.name, r]))
  return settings.map((s) => {
    const ignore = new Set(s.ignore_ip)
    for (const name of s.ignore_hosts) {
      const resolution = byName.get(name)
      if (!resolution || resolution.error !== undefined) {
        opts.warn(`jail [${s.name}]: ignoreip: unable to find an address for ${name}: ${resolution?.error ?? 'not looked up'}; it is not ignored`)
      }
      for (const address of resolution?.addresses ?? []) ignore.add(address)
    }
    if (s.ignore_self) for (const address of own) ignore.add(address)
    return jailPolicy({ ...s, ignore_ip: [...ignore] })
  })
}
