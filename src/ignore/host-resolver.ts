import { lookup as dnsLookup } from 'node:dns/promises'
import { canonicalAddress } from '../../schemas/events/address.js'
import { ExpiringCache } from '../filters/expiring-cache.js'

/** Resolves a host name to its addresses (node's dns.lookup with `all: true` has this shape). */
export type LookupFunction = (name: string) => Promise<ReadonlyArray<{ readonly address: string }>>

/** What a host name resolved to. A failure is reported here, never thrown. */
export interface Resolution {
  readonly name: string
  /** Canonical addresses, without duplicates; empty when the name did not resolve. */
  readonly addresses: readonly string[]
  /** Why the name gave no address (resolver error or timeout); absent on success. */
  readonly error?: string
}

export interface HostResolverOptions {
  /** Defaults to node:dns/promises lookup(name, { all: true }): the system resolver, /etc/hosts included, as fail2ban's getaddrinfo. */
  readonly lookup?: LookupFunction
  /** How long an answer (a failure too) is kept: fail2ban's DNS cache keeps names 5 minutes. */
  readonly ttl_secs?: number
  /** At most this many names are kept (fail2ban: 1000). */
  readonly max_entries?: number
  /** A lookup that has not answered by then counts as failed (default 5000 ms). */
  readonly timeout_ms?: number
  /** Seconds since the epoch; injected for tests. */
  readonly now?: () => number
}

const defaultLookup: LookupFunction = (name) => dnsLookup(name, { all: true })

/**
 * Turns ignoreip host names into addresses, as fail2ban's DNSUtils.dnsToIp:
 * every address of either family, a cache so a name is asked at most once per
 * TTL, and failed names cached too so a broken resolver does not stall every
 * reload. Concurrent requests for one name share one lookup.
 */
export class HostResolver {
  private readonly lookup: LookupFunction
  private readonly timeoutMs: number
  private readonly cache: ExpiringCache<Resolution>
  private readonly pending = new Map<string, Promise<Resolution>>()

  constructor(opts: HostResolverOptions = {}) {
    this.lookup = opts.lookup ?? defaultLookup
    this.timeoutMs = opts.timeout_ms ?? 5000
    this.cache = new ExpiringCache(opts.max_entries ?? 1000, opts.ttl_secs ?? 300, opts.now ?? (() => Date.now() / 1000))
  }

  resolve(name: string): Promise<Resolution> {
    const key = name.toLowerCase()
    const cached = this.cache.get(key)
    if (cached) return Promise.resolve(cached)
    let pending = this.pending.get(key)
    if (!pending) {
      pending = this.ask(name).then((resolution) => {
        this.cache.set(key, resolution)
        this.pending.delete(key)
        return resolution
      })
      this.pending.set(key, pending)
    }
    return pending
  }

  private async ask(name: string): Promise<Resolution> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs)
    })
    try {
      const answers = await Promise.race([this.lookup(name), timeout])
      const addresses = new Set<string>()
      for (const { address } of answers) {
        const canonical = canonicalAddress(address)
        if (canonical !== null) addresses.add(canonical)
      }
      return addresses.size > 0 ? { name, addresses: [...addresses] } : { name, addresses: [], error: 'no address' }
    } catch (err) {
      return { name, addresses: [], error: err instanceof Error ? err.message : String(err) }
    } finally {
      clearTimeout(timer)
    }
  }
}
