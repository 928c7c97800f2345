import { addressBits, formatAddress, isCanonicalIpv4, parseAddress as parseEventAddress } from '../../schemas/events/address.js'

/**
 * Validation of captured hosts, on top of the event address contract (schemas/events/address.ts):
 * the forms logs write around an address (brackets, ports, zones). A failregex captures attacker-controlled text;
 * only a real IP address (or network) may leave here towards a firewall, and
 * always in one canonical spelling so that bans, unbans and ignoreip compare
 * equal however the log wrote the address.
 */

export type Family = 4 | 6

export interface Address {
  /** Canonical text: dotted quad for IPv4, RFC 5952 (lower case, longest zero run as ::) for IPv6. */
  ip: string
  family: Family
  /** Network prefix length, present only for a network (shorter than 32 / 128); `ip` is then the network address. */
  prefix?: number
}

const BRACKETED = /^\[([^\]]+)\](?::(\d{1,5}))?$/
const ZONE = /^[\w.-]+$/
const MAX_PORT = 65535

/**
 * Parses a captured host as fail2ban's IPAddr would accept it, stricter where
 * text is ambiguous: forms that inet_aton reads as something else (`012.1.2.3`
 * octal, `0x7f.1`, `127.1`) are refused, not reinterpreted. Accepts
 * `[v6]`/`[v6]:port`, `v6%zone` (zone dropped), `addr/prefix` (host bits
 * cleared, as fail2ban does) and maps `::ffff:a.b.c.d` to the IPv4 address.
 * Returns null for anything that is not an address.
 */
export function parseAddress(text: string): Address | null {
  // Nearly every captured host is a plain dotted quad, already canonical: the general parse
  // (pattern, bytes, printing back) cost a microsecond of every failure line.
  if (isCanonicalIpv4(text)) return { ip: text, family: 4 }
  let inner = text
  const bracketed = BRACKETED.exec(text)
  if (bracketed !== null) {
    const port = bracketed[2]
    if (port !== undefined && Number(port) > MAX_PORT) return null
    inner = bracketed[1] as string
  }
  const percent = inner.indexOf('%')
  if (percent >= 0) {
    const slash = inner.indexOf('/', percent)
    const zone = inner.slice(percent + 1, slash < 0 ? undefined : slash)
    if (!inner.includes(':') || !ZONE.test(zone)) return null
    inner = inner.slice(0, percent) + (slash < 0 ? '' : inner.slice(slash))
  }
  if (inner !== inner.trim()) return null
  let parsed = parseEventAddress(inner)
  if (parsed === null) return null
  // fail2ban turns an IPv4-mapped address into IPv4, but only a single address, not a network.
  if (parsed.family === 4 && inner.includes(':') && inner.includes('/')) {
    const bytes = new Uint8Array(16)
    bytes[10] = 0xff
    bytes[11] = 0xff
    bytes.set(parsed.bytes, 12)
    parsed = { family: 6, bytes, prefix: parsed.prefix + 96 }
  }
  const full = addressBits(parsed.family)
  const address: Address = { ip: formatAddress({ family: parsed.family, bytes: parsed.bytes, prefix: full }), family: parsed.family }
  if (parsed.prefix < full) address.prefix = parsed.prefix
  return address
}

