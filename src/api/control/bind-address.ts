import { contains, parseAddress } from '../../../schemas/events/address.js'

const LOOPBACK_V4 = parseAddress('127.0.0.0/8')!
const LOOPBACK_V6 = parseAddress('::1')!

/**
 * Whether a listen address only reaches this host: `localhost`, 127.0.0.0/8,
 * `::1` (and `::ffff:127.x`, which reads as IPv4). Anything else — `0.0.0.0`,
 * `::`, a host name, an interface address — is treated as reachable from outside.
 */
export function isLoopbackBind(bind: string): boolean {
  if (bind.toLowerCase() === 'localhost') return true
  const address = parseAddress(bind.replace(/^\[(.*)\]$/, '$1'))
  if (!address) return false
  return contains(address.family === 4 ? LOOPBACK_V4 : LOOPBACK_V6, address)
}
