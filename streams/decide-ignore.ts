import { parseAddress, overlaps, type Address } from '../schemas/events/address.js'

/** Thrown for an ignoreip entry that cannot be honoured safely. */
export class IgnoreIpError extends Error {
  readonly code: 'BANSTREAM_ERR_IGNOREIP_TOO_WIDE' | 'BANSTREAM_ERR_IGNOREIP_INVALID'
  constructor(code: IgnoreIpError['code'], message: string) {
    super(message)
    this.code = code
    this.name = 'IgnoreIpError'
  }
}

/** A jail's ignoreip, compiled: the addresses and networks it never bans. */
export interface IgnoreList {
  readonly entries: readonly Address[]
}

/**
 * Compiles ignoreip entries (addresses and CIDR networks, separated by spaces
 * or commas as in jail.conf). A /0 or /1 entry is refused: it would ignore
 * every address, or half of them, which is always a typo. Host names are
 * refused too: this stage does no DNS, so the config loader must resolve them.
 */
export function compileIgnoreList(entries: string | readonly string[]): IgnoreList {
  const list = typeof entries === 'string' ? entries.split(/[\s,]+/) : entries.flatMap((e) => e.split(/[\s,]+/))
  const compiled: Address[] = []
  for (const entry of list) {
    if (entry === '') continue
    const address = parseAddress(entry)
    if (!address) {
      throw new IgnoreIpError('BANSTREAM_ERR_IGNOREIP_INVALID',
        `ignoreip entry '${entry}' is not an IP address or CIDR network (host names must be resolved by the config loader)`)
    }
    const wide = tooWide(address)
    if (wide !== undefined) {
      throw new IgnoreIpError('BANSTREAM_ERR_IGNOREIP_TOO_WIDE', `ignoreip entry '${entry}' ${wide}; refusing it (a /0 or /1 entry is always a mistake)`)
    }
    compiled.push(address)
  }
  return { entries: compiled }
}

/**
 * What a /0 or /1 network covers ("covers every IPv4 address"), undefined for narrower ones: no
 * ignoreip entry and no ban may be that wide, which is always a mistake.
 */
export function tooWide(address: Address): string | undefined {
  if (address.prefix > 1) return undefined
  return `covers ${address.prefix === 0 ? 'every' : 'half of all'} IPv${address.family} address${address.prefix === 0 ? '' : 'es'}`
}

/** Whether banning this address or network would also ban an ignored address. */
export function touchesIgnored(list: IgnoreList, network: Address): boolean {
  return list.entries.some((entry) => overlaps(entry, network))
}
