import { parseAddress, formatAddress, networkOf } from './events/address.js'

/**
 * The topics of ARCHITECTURE.md: name, what keys a record, and what its value
 * holds. Kafka in distributed mode, the embedded log in one process.
 */
export const Topics = {
  lines: { name: 'lines', key: 'source host', value: 'a batch of raw lines of one stream (bytes) with headers' },
  failures: { name: 'failures', key: 'address (see partitionKey)', value: 'FailureDetected (JSON)' },
  decisions: { name: 'decisions', key: 'address (see partitionKey)', value: 'Decision: BanIssued | BanLifted (JSON)' },
  actuations: { name: 'actuations', key: 'host', value: 'Actuation: applied / removed / failed (JSON)' },
  commands: { name: 'commands', key: 'address (see partitionKey)', value: 'BanAddress | LiftBan (JSON), read by decide' },
} as const

export type TopicName = (typeof Topics)[keyof typeof Topics]['name']

/**
 * The IPv6 network every record about an IPv6 address is keyed by. Jails may
 * count IPv6 addresses per network (a /64 by default); keying by a /48 puts
 * every address of such a network in one partition for any jail prefix from
 * /48 to /128, so one decide instance sees all of its failures.
 */
export const IPV6_PARTITION_PREFIX = 48

/**
 * The key of a `failures`, `decisions` or `commands` record: the IPv4 address,
 * or the IPv6 /48 network holding the address. Text that is no address keys
 * as itself (the decide stage reports it as invalid).
 */
export function partitionKey(ip: string): string {
  const address = parseAddress(ip)
  if (!address) return ip
  if (address.family === 4) return formatAddress(networkOf(address, 32))
  return formatAddress(networkOf(address, IPV6_PARTITION_PREFIX))
}
