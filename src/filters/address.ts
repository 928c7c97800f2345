import { isIPv4, isIPv6 } from 'node:net'

/**
 * Validation of captured hosts. A failregex captures attacker-controlled text;
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
const PREFIX = /^\d{1,3}$/
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
  let inner = text
  const bracketed = BRACKETED.exec(text)
  if (bracketed !== null) {
    const port = bracketed[2]
    if (port !== undefined && Number(port) > MAX_PORT) return null
    inner = bracketed[1] as string
  }
  const slash = inner.indexOf('/')
  let prefix: number | undefined
  if (slash >= 0) {
    const bits = inner.slice(slash + 1)
    if (!PREFIX.test(bits)) return null
    prefix = Number(bits)
    inner = inner.slice(0, slash)
  }
  if (isIPv4(inner)) return ipv4(ipv4Bytes(inner), prefix)
  const percent = inner.indexOf('%')
  if (percent >= 0) {
    if (!ZONE.test(inner.slice(percent + 1))) return null
    inner = inner.slice(0, percent)
  }
  if (!isIPv6(inner)) return null
  const bytes = ipv6Bytes(inner)
  // fail2ban turns an IPv4-mapped address into IPv4, but only a single address, not a network.
  if (prefix === undefined && isIPv4Mapped(bytes)) return ipv4(bytes.subarray(12), undefined)
  return ipv6(bytes, prefix)
}

function ipv4(bytes: Uint8Array, prefix: number | undefined): Address | null {
  if (prefix !== undefined && prefix > 32) return null
  const masked = maskBytes(bytes, prefix)
  const address: Address = { ip: Array.from(masked).join('.'), family: 4 }
  if (prefix !== undefined && prefix < 32) address.prefix = prefix
  return address
}

function ipv6(bytes: Uint8Array, prefix: number | undefined): Address | null {
  if (prefix !== undefined && prefix > 128) return null
  const address: Address = { ip: formatIPv6(maskBytes(bytes, prefix)), family: 6 }
  if (prefix !== undefined && prefix < 128) address.prefix = prefix
  return address
}

function maskBytes(bytes: Uint8Array, prefix: number | undefined): Uint8Array {
  const out = Uint8Array.from(bytes)
  if (prefix === undefined) return out
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8))
    out[i] = (out[i] as number) & ((0xff << (8 - keep)) & 0xff)
  }
  return out
}

function ipv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number))
}

/** The 16 bytes of a textual IPv6 address that isIPv6 accepted (no zone). */
function ipv6Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(16)
  let body = text
  let tail: Uint8Array | undefined
  const lastColon = body.lastIndexOf(':')
  const last = body.slice(lastColon + 1)
  if (last.includes('.')) {
    tail = ipv4Bytes(last)
    body = body.slice(0, lastColon + 1) + '0:0'
  }
  const [head = '', rest] = body.split('::') as [string, string | undefined]
  const headGroups = head === '' ? [] : head.split(':')
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':')
  const groups = [...headGroups, ...new Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups]
  groups.forEach((group, i) => {
    const value = parseInt(group, 16)
    bytes[i * 2] = value >> 8
    bytes[i * 2 + 1] = value & 0xff
  })
  if (tail !== undefined) bytes.set(tail, 12)
  return bytes
}

function isIPv4Mapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every(b => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
}

/** RFC 5952: lower-case hex, no leading zeros, the first longest run of two or more zero groups as `::`. */
function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number))
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (gs: number[]) => gs.map(g => g.toString(16)).join(':')
  if (bestStart < 0) return hex(groups)
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`
}
