import { hostname as osHostname, networkInterfaces as osNetworkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { canonicalAddress } from '../../schemas/events/address.js'
import { HostResolver } from './host-resolver.js'

export interface SelfAddressOptions {
  /** Resolves the host's own names; a shared resolver shares its cache. */
  readonly resolver?: HostResolver
  /** Defaults to os.networkInterfaces. */
  readonly interfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>
  /** Defaults to os.hostname. */
  readonly hostname?: () => string
  /** Told when one of the host's own names does not resolve. */
  readonly warn?: (msg: string) => void
}

// Always the host itself, whether or not lo is up or localhost is in /etc/hosts.
const LOOPBACK = ['127.0.0.0/8', '::1']

/**
 * What fail2ban's `ignoreself` never bans (DNSUtils.getSelfIPs): the addresses
 * of the host's network interfaces, the loopback network, and the addresses
 * that its own names (localhost and its host name) resolve to. Canonical
 * spelling, without duplicates.
 */
export async function selfAddresses(opts: SelfAddressOptions = {}): Promise<string[]> {
  const addresses = new Set(LOOPBACK)
  for (const infos of Object.values((opts.interfaces ?? osNetworkInterfaces)())) {
    for (const info of infos ?? []) {
      // A link-local IPv6 address may carry its zone (fe80::1%eth0); the address is what a log shows.
      const canonical = canonicalAddress(info.address.replace(/%.*$/, ''))
      if (canonical !== null) addresses.add(canonical)
    }
  }
  const resolver = opts.resolver ?? new HostResolver()
  const names = new Set(['localhost', (opts.hostname ?? osHostname)()].filter((name) => name !== ''))
  const resolutions = await Promise.all([...names].map((name) => resolver.resolve(name)))
  for (const resolution of resolutions) {
    if (resolution.error !== undefined) opts.warn?.(`ignoreself: unable to find an address for this host's name ${resolution.name}: ${resolution.error}`)
    for (const address of resolution.addresses) addresses.add(address)
  }
  return [...addresses]
}
