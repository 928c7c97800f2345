/**
 * The text form of addresses in events. Every `ip` field holds an IPv4 or IPv6
 * address, or a CIDR network (`192.0.2.0/24`, `2001:db8:1:2::/64`), written in
 * its canonical form (RFC 5952 for IPv6) so that one address has one spelling
 * and can key a topic, a table row or a firewall set entry.
 */
export interface Address {
  readonly family: 4 | 6
  /** Network-order bytes: 4 for IPv4, 16 for IPv6; host bits past `prefix` are zero. */
  readonly bytes: Uint8Array
  /** Prefix length in bits; 32 or 128 for a single address. */
  readonly prefix: number
}

/**
 * The 32-bit value of a dotted-quad IPv4 address (four decimal numbers 0-255, no leading zeros),
 * or -1 for any other text. Scanned by hand: every failure's address is read, most as this form.
 */
function ipv4Value(text: string): number {
  let value = 0
  let octet = 0
  let octets = 0
  let digits = 0
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : DOT
    if (c === DOT) {
      if (digits === 0 || ++octets > 4) return -1
      value = value * 256 + octet
      octet = 0
      digits = 0
    } else if (c >= DIGIT_0 && c <= DIGIT_9 && digits < 3 && !(digits > 0 && octet === 0)) {
      // A digit after a leading zero is refused (the else below): such text reads as octal in some tools.
      octet = octet * 10 + (c - DIGIT_0)
      if (++digits === 3 && octet > 255) return -1
    } else {
      return -1
    }
  }
  return octets === 4 ? value : -1
}

const DOT = 0x2e
const DIGIT_0 = 0x30
const DIGIT_9 = 0x39

function parseIpv4(text: string): Uint8Array | null {
  const value = ipv4Value(text)
  return value < 0 ? null : Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
}

function parseGroups(text: string): number[] | null {
  if (text === '') return []
  const groups: number[] = []
  const parts = text.split(':')
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part)
      if (!v4) return null
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      continue
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null
    groups.push(parseInt(part, 16))
  }
  return groups
}

function parseIpv6(text: string): Uint8Array | null {
  const halves = text.split('::')
  if (halves.length > 2) return null
  const head = parseGroups(halves[0]!)
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : []
  if (!head || !tail) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail]
  const bytes = new Uint8Array(16)
  groups.forEach((g, i) => { bytes[2 * i] = g >> 8; bytes[2 * i + 1] = g & 0xff })
  return bytes
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false
  return bytes[10] === 0xff && bytes[11] === 0xff
}

/** The mask of a byte holding `n` prefix bits, for n = 0..7. */
const PARTIAL_BYTE = [0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe]

/** Clears the host bits past `prefix`. */
function mask(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length)
  const whole = Math.min(prefix >> 3, bytes.length)
  out.set(bytes.subarray(0, whole))
  if (whole < bytes.length) out[whole] = bytes[whole]! & PARTIAL_BYTE[prefix & 7]!
  return out
}

/**
 * Parses an address or CIDR network; null when the text is neither.
 * IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`) read as IPv4, as fail2ban does.
 */
export function parseAddress(text: string): Address | null {
  const trimmed = text.trim()
  const slash = trimmed.indexOf('/')
  const host = slash < 0 ? trimmed : trimmed.slice(0, slash)
  const bits = slash < 0 ? null : trimmed.slice(slash + 1)
  if (bits !== null && !/^\d{1,3}$/.test(bits)) return null
  const v4 = parseIpv4(host)
  if (v4) {
    const prefix = bits === null ? 32 : Number(bits)
    if (prefix > 32) return null
    return { family: 4, bytes: prefix === 32 ? v4 : mask(v4, prefix), prefix }
  }
  const v6 = host.includes(':') ? parseIpv6(host) : null
  if (!v6) return null
  const prefix = bits === null ? 128 : Number(bits)
  if (prefix > 128) return null
  if (isV4Mapped(v6) && prefix >= 96) {
    return { family: 4, bytes: mask(v6.subarray(12), prefix - 96), prefix: prefix - 96 }
  }
  return { family: 6, bytes: mask(v6, prefix), prefix }
}

/** The full length in bits of an address of this family. */
export function addressBits(family: 4 | 6): number {
  return family === 4 ? 32 : 128
}

function formatIpv6(bytes: Uint8Array): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  // RFC 5952: compress the longest run of two or more zero groups, the first on a tie.
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

/** The canonical text: the bare address for a full-length prefix, `network/prefix` otherwise. */
export function formatAddress(address: Address): string {
  const b = address.bytes
  const host = address.family === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : formatIpv6(b)
  return address.prefix === addressBits(address.family) ? host : `${host}/${address.prefix}`
}

/** The network of `prefix` bits holding the address (the address itself if it is already narrower). */
export function networkOf(address: Address, prefix: number): Address {
  const bits = Math.min(prefix, address.prefix)
  return { family: address.family, bytes: mask(address.bytes, bits), prefix: bits }
}

/** Whether `inner` (an address or network) lies wholly inside `outer`. */
export function contains(outer: Address, inner: Address): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false
  // Compared in place (the decide stage asks this for every failure and ignoreip entry): outer's
  // bytes past its prefix are zero, so only its prefix bits need comparing.
  const whole = outer.prefix >> 3
  for (let i = 0; i < whole; i++) if (inner.bytes[i] !== outer.bytes[i]) return false
  return whole === outer.bytes.length || (inner.bytes[whole]! & PARTIAL_BYTE[outer.prefix & 7]!) === outer.bytes[whole]
}

/** Whether two addresses or networks share at least one address. */
export function overlaps(a: Address, b: Address): boolean {
  return contains(a, b) || contains(b, a)
}

/**
 * Whether `text` is an IPv4 address in its canonical text (four decimal octets without a leading
 * zero), told without parsing it: most addresses events carry are, and a writer checking every
 * event's address (the store sink) need parse only the others.
 */
export function isCanonicalIpv4(text: string): boolean {
  return ipv4Value(text) >= 0
}

/** The canonical text of an address or network, or null when the text is neither. */
export function canonicalAddress(text: string): string | null {
  const parsed = parseAddress(text)
  return parsed ? formatAddress(parsed) : null
}
