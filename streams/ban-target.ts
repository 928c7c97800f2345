/**
 * Which actuators apply a jail's bans (jail option `bantarget`): 'fleet' is
 * every host; otherwise the hosts named, plus, with `origin`, the hosts whose
 * logs showed the counted failures — fail2ban's behaviour, where each host
 * bans what its own logs show. The default is origin alone.
 */
export type BanTarget = 'fleet' | { readonly origin: boolean; readonly hosts: readonly string[] }

export const ORIGIN_TARGET: BanTarget = { origin: true, hosts: [] }

// One shared array per host: a window whose failures all come from one host (the common case) costs no array of its own.
const single = new Map<string, readonly string[]>()

/** The hosts that showed an address's failures, with one more. */
export function withHost(hosts: readonly string[] | undefined, host: string): readonly string[] {
  if (hosts === undefined || hosts.length === 0) {
    let one = single.get(host)
    if (one === undefined) single.set(host, (one = Object.freeze([host])))
    return one
  }
  return hosts.includes(host) ? hosts : [...hosts, host]
}

/** The hosts a ban targets, sorted (undefined: every host), from the jail's target and the hosts that showed the failures. */
export function banTargets(target: BanTarget, origin: readonly string[] | undefined): string[] | undefined {
  if (target === 'fleet') return undefined
  const hosts = new Set(target.hosts)
  if (target.origin) for (const host of origin ?? []) hosts.add(host)
  return hosts.size === 0 ? undefined : [...hosts].sort()
}

/** Whether a decision with these targets is for `host`. */
export function targets(decisionTargets: readonly string[] | undefined, host: string): boolean {
  return decisionTargets === undefined || decisionTargets.includes(host)
}
