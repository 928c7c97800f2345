import { addressBits, formatAddress, parseAddress, type Address } from '../../schemas/events/address.js'
import { banTimeFormula, defaultIncrement, UnsupportedFormulaError, type BanTimeIncrement } from '../../streams/ban-time.js'
import type { BanTarget } from '../../streams/ban-target.js'
import type { JailPolicyOptions } from '../../streams/decide-policy.js'
import { ConfigError } from './errors.js'
import { DurationSyntaxError, evaluate, str2seconds } from './fail2ban-seconds.js'
import type { JailConfig } from './jail-config.js'

/**
 * A jail's counting and banning options, read from its fail2ban option strings.
 * Pass it to jailPolicy() once `ignore_hosts` (and, with `ignore_self`, the
 * host's own addresses) are resolved and added to `ignore_ip`.
 */
export interface JailPolicySettings extends JailPolicyOptions {
  /** ignoreip entries that are addresses or CIDR networks, in canonical form, without duplicates. */
  readonly ignore_ip: readonly string[]
  /** ignoreip entries that are host names: fail2ban resolves them; this reader does no DNS. */
  readonly ignore_hosts: readonly string[]
  /** ignoreself (default true): the host's own addresses are never banned. */
  readonly ignore_self: boolean
  /** ignorecommand, or null when empty. banstream does not run it yet: the caller must refuse or warn. */
  readonly ignore_command: string | null
}

const TRUE = new Set(['1', 'yes', 'true', 'on'])
const FALSE = new Set(['0', 'no', 'false', 'off'])
// Python's int(): optional sign, digits with single underscores between them.
const PYTHON_INT = /^[+-]?\d+(?:_\d+)*$/
const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?'
// A DNS name whose last label is not all digits: '10.0.0.256' is a mistyped address, not a host.
const HOST_NAME = new RegExp(`^(?=.{1,253}\\.?$)(?:${LABEL}\\.)*(?=[A-Za-z0-9_-]*[A-Za-z_-])${LABEL}\\.?$`)

/**
 * Reads the options fail2ban's jail understands for counting and banning
 * (maxretry, findtime, bantime, maxmatches, ignoreip, ignoreself,
 * ignorecommand, bantime.*) and banstream's own (window, resetonsuccess,
 * ipv6prefix, bantarget), with fail2ban's value syntax. An option that is absent or empty
 * is left to jailPolicy()'s default, as fail2ban leaves it to the server's.
 * Throws ConfigError naming the jail, option and value for a value fail2ban
 * would not accept or that would make the jail meaningless.
 */
export function jailPolicyOptions(jail: JailConfig): JailPolicySettings {
  const read = new OptionReader(jail)
  const maxRetry = read.integer('maxretry', 1)
  const maxMatches = read.integer('maxmatches', 0)
  const findTime = read.seconds('findtime', (v) => v > 0, 'must be more than 0 seconds')
  const banTime = read.seconds('bantime', (v) => Math.trunc(v) === -1 || Math.trunc(v) >= 1,
    'must be at least 1 second, or -1 for a permanent ban')
  const window = read.choice('window', ['fail2ban', 'sliding'] as const)
  const resetOnSuccess = read.boolean('resetonsuccess')
  const ipv6Prefix = read.integer('ipv6prefix', 16, 128)
  const banTarget = read.banTarget()
  const ignore = read.ignoreIp()
  const ignoreCommand = read.raw('ignorecommand')
  // Read even when bantime.increment is off, so a mistake shows now rather than when it is turned on.
  const increment = read.increment()
  return {
    name: jail.name,
    ...(maxRetry !== undefined ? { max_retry: maxRetry } : {}),
    ...(maxMatches !== undefined ? { max_matches: maxMatches } : {}),
    ...(findTime !== undefined ? { find_time_secs: findTime } : {}),
    // fail2ban's BanManager keeps int(bantime).
    ...(banTime !== undefined ? { ban_time_secs: Math.trunc(banTime) } : {}),
    ...(window !== undefined ? { window } : {}),
    ...(resetOnSuccess !== undefined ? { reset_on_success: resetOnSuccess } : {}),
    ...(ipv6Prefix !== undefined ? { ipv6_prefix: ipv6Prefix } : {}),
    ...(banTarget !== undefined ? { ban_target: banTarget } : {}),
    increment: read.boolean('bantime.increment') ? increment : null,
    ignore_ip: ignore.addresses,
    ignore_hosts: ignore.hosts,
    ignore_self: read.boolean('ignoreself') ?? true,
    ignore_command: ignoreCommand ?? null,
  }
}

class OptionReader {
  constructor(private readonly jail: JailConfig) {}

  /** The option's text, or undefined when absent or blank. */
  raw(option: string): string | undefined {
    const value = this.jail.options[option]?.trim()
    return value === undefined || value === '' ? undefined : value
  }

  fail(option: string, why: string): never {
    throw new ConfigError(`jail [${this.jail.name}]: ${option} = ${JSON.stringify(this.jail.options[option])}: ${why}`, undefined, option)
  }

  // configparser's getboolean, which fail2ban's reader uses.
  boolean(option: string): boolean | undefined {
    const value = this.raw(option)?.toLowerCase()
    if (value === undefined) return undefined
    if (TRUE.has(value)) return true
    if (FALSE.has(value)) return false
    return this.fail(option, 'must be one of true/false/yes/no/on/off/1/0')
  }

  integer(option: string, min: number, max = Infinity): number | undefined {
    const value = this.raw(option)
    if (value === undefined) return undefined
    if (!PYTHON_INT.test(value)) this.fail(option, 'must be a whole number')
    const n = Number(value.replace(/_/g, ''))
    if (n < min || n > max) this.fail(option, max === Infinity ? `must be at least ${min}` : `must be between ${min} and ${max}`)
    return n
  }

  seconds(option: string, valid: (secs: number) => boolean, why: string): number | undefined {
    const value = this.raw(option)
    if (value === undefined) return undefined
    const secs = this.parse(option, () => str2seconds(value))
    if (!valid(secs)) this.fail(option, `${why} (it is ${secs} s)`)
    return secs
  }

  /**
   * bantarget: `fleet`, or host names (space or comma separated; a named group
   * is a list in [DEFAULT] interpolated with %(name)s) and the word `origin`
   * for the hosts whose logs showed the failures (the default).
   */
  banTarget(): BanTarget | undefined {
    const value = this.raw('bantarget')
    if (value === undefined) return undefined
    const words = value.split(/[\s,]+/).filter((w) => w !== '')
    if (words.includes('fleet')) {
      if (words.length > 1) this.fail('bantarget', 'fleet already means every host; give it alone')
      return 'fleet'
    }
    const bad = words.find((w) => w !== 'origin' && !HOST_NAME.test(w))
    if (bad !== undefined) this.fail('bantarget', `"${bad}" is neither origin, fleet nor a host name`)
    return { origin: words.includes('origin'), hosts: [...new Set(words.filter((w) => w !== 'origin'))].sort() }
  }

  choice<T extends string>(option: string, choices: readonly T[]): T | undefined {
    const value = this.raw(option)?.toLowerCase()
    if (value === undefined) return undefined
    if (!(choices as readonly string[]).includes(value)) this.fail(option, `must be one of ${choices.join(', ')}`)
    return value as T
  }

  increment(): BanTimeIncrement {
    const factorText = this.raw('bantime.factor')
    const factor = factorText === undefined ? 1 : this.parse('bantime.factor', () => evaluate(factorText))
    if (!(factor > 0)) this.fail('bantime.factor', 'must be a number above 0')
    const formulaText = this.raw('bantime.formula')
    const formula = this.parse('bantime.formula', () => banTimeFormula(formulaText))
    const multipliers = (this.raw('bantime.multipliers') ?? '').split(/\s+/).filter((m) => m !== '').map((m) => {
      if (!PYTHON_INT.test(m) || Number(m.replace(/_/g, '')) < 1) this.fail('bantime.multipliers', `'${m}' is not a whole number of at least 1`)
      return Number(m.replace(/_/g, ''))
    })
    const maxTime = this.seconds('bantime.maxtime', (v) => v > 0, 'must be more than 0 seconds')
    const rndTime = this.seconds('bantime.rndtime', (v) => v >= 0, 'must not be negative')
    return defaultIncrement({
      factor,
      formula,
      multipliers,
      max_time_secs: maxTime ?? null,
      rnd_time_secs: rndTime ?? null,
      overall_jails: this.boolean('bantime.overalljails') ?? false,
    })
  }

  /** fail2ban's splitwords: entries separated by blanks, commas or new lines. */
  ignoreIp(): { addresses: string[]; hosts: string[] } {
    const addresses = new Set<string>()
    const hosts = new Set<string>()
    for (const entry of (this.raw('ignoreip') ?? '').split(/[\s,]+/)) {
      if (entry === '') continue
      const address = this.ignoreAddress(entry)
      if (address) addresses.add(formatAddress(address))
      else if (HOST_NAME.test(entry)) hosts.add(entry.toLowerCase())
      else if (entry.startsWith('file:')) this.fail('ignoreip', `'${entry}': reading ignoreip from a file is not supported yet; list the addresses`)
      else this.fail('ignoreip', `'${entry}' is neither an IP address, a network (address/bits or address/mask) nor a host name`)
    }
    return { addresses: [...addresses], hosts: [...hosts] }
  }

  // As fail2ban's IPAddr: [brackets] around IPv6 are dropped, and a mask may be written as an address.
  private ignoreAddress(entry: string): Address | null {
    let text = entry.startsWith('[') && entry.endsWith(']') && entry.length > 2 ? entry.slice(1, -1) : entry
    const slash = text.indexOf('/')
    if (slash >= 0 && /[.:]/.test(text.slice(slash + 1))) {
      const bits = maskBits(text.slice(slash + 1))
      if (bits === null) this.fail('ignoreip', `'${entry}': the mask is not a run of leading one bits`)
      text = `${text.slice(0, slash)}/${bits}`
    }
    const address = parseAddress(text)
    if (address && address.prefix <= 1) {
      this.fail('ignoreip', `'${entry}' covers ${address.prefix === 0 ? 'every' : 'half of all'} IPv${address.family} address${address.prefix === 0 ? '' : 'es'}; a /0 or /1 entry is always a mistake`)
    }
    return address
  }

  private parse<T>(option: string, compute: () => T): T {
    try {
      return compute()
    } catch (err) {
      if (err instanceof DurationSyntaxError || err instanceof UnsupportedFormulaError) this.fail(option, err.message)
      throw err
    }
  }
}

/** The prefix length of a netmask written as an address (255.255.255.0 -> 24), or null if it has holes. */
function maskBits(mask: string): number | null {
  const parsed = parseAddress(mask)
  if (!parsed || parsed.prefix !== addressBits(parsed.family)) return null
  const bits = [...parsed.bytes].map((byte) => byte.toString(2).padStart(8, '0')).join('')
  if (!/^1*0*$/.test(bits)) return null
  return bits.replace(/0+$/, '').length
}
