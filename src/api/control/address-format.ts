import { isIP } from 'node:net'
import { canonicalAddress } from '../../../schemas/events/address.js'

/**
 * Whether text is an IPv4/IPv6 address or CIDR network fit to reach a firewall:
 * node's isIP for the address, a decimal prefix within the family's length,
 * and no IPv6 zone (`%eth0`), which isIP admits but no ban set can hold.
 */
export function isAddressText(text: string): boolean {
  const slash = text.indexOf('/')
  const host = slash < 0 ? text : text.slice(0, slash)
  const family = isIP(host)
  if (family === 0 || host.includes('%')) return false
  if (slash >= 0) {
    const bits = text.slice(slash + 1)
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return false
  }
  return canonicalAddress(text) !== null
}

/** The one spelling of a validated address (RFC 5952, host bits of a network cleared). */
export function canonicalize(text: string): string {
  const canonical = canonicalAddress(text)
  if (canonical === null) throw new TypeError(`not an address: ${text}`)
  return canonical
}
