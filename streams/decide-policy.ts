import { compileIgnoreList, type IgnoreList } from './decide-ignore.js'
import type { BanTimeIncrement } from './ban-time.js'
import { ORIGIN_TARGET, type BanTarget } from './ban-target.js'

/**
 * How a jail counts failures and bans, in the words of jail.conf. Durations
 * carry their unit in the name. Build one with jailPolicy().
 */
export interface JailPolicy {
  readonly name: string
  /** maxretry: failures within findtime that ban an address. */
  readonly max_retry: number
  /** findtime: the window failures are counted in. */
  readonly find_time_secs: number
  /** bantime: the first ban's length; -1 = permanent. */
  readonly ban_time_secs: number
  /** maxmatches: how many log lines a ban carries (default maxretry, as in jail.conf). */
  readonly max_matches: number
  /**
   * 'fail2ban' (default): fail2ban's counter, which once the first failure
   * leaves findtime rescales the count to the rate seen so far
   * (round(count / elapsed * findtime)); 'sliding': count exactly the
   * failures of the last findtime.
   */
  readonly window: 'fail2ban' | 'sliding'
  /** A success of an address (FailureDetected.success) clears its count. */
  readonly reset_on_success: boolean
  /** IPv6 addresses are counted and banned per network of this many bits (default 64; 128 = per address, as fail2ban). */
  readonly ipv6_prefix: number
  /** ignoreip, compiled. */
  readonly ignore: IgnoreList
  /** bantime.increment; null when off. */
  readonly increment: BanTimeIncrement | null
  /** bantarget: the hosts whose actuators apply the bans (default: those whose logs showed the failures, as fail2ban). */
  readonly ban_target: BanTarget
}

export type JailPolicyOptions = Partial<Omit<JailPolicy, 'name' | 'ignore'>> & {
  readonly name: string
  /** ignoreip entries: addresses and CIDR networks. */
  readonly ignore_ip?: string | readonly string[]
}

/** Thrown for a jail option out of range. */
export class JailPolicyError extends Error {
  readonly code = 'BANSTREAM_ERR_JAIL_OPTION'
  constructor(jail: string, message: string) {
    super(`jail '${jail}': ${message}`)
    this.name = 'JailPolicyError'
  }
}

/** A jail policy with jail.conf's defaults (maxretry 5, findtime 10m, bantime 10m) for what is not given. */
export function jailPolicy(options: JailPolicyOptions): JailPolicy {
  const maxRetry = options.max_retry ?? 5
  const policy: JailPolicy = {
    name: options.name,
    max_retry: maxRetry,
    find_time_secs: options.find_time_secs ?? 600,
    ban_time_secs: options.ban_time_secs ?? 600,
    max_matches: options.max_matches ?? maxRetry,
    window: options.window ?? 'fail2ban',
    reset_on_success: options.reset_on_success ?? false,
    ipv6_prefix: options.ipv6_prefix ?? 64,
    ignore: compileIgnoreList(options.ignore_ip ?? []),
    increment: options.increment ?? null,
    ban_target: options.ban_target ?? ORIGIN_TARGET,
  }
  const fail = (message: string) => { throw new JailPolicyError(policy.name, message) }
  if (!Number.isInteger(policy.max_retry) || policy.max_retry < 1) fail(`maxretry must be a whole number >= 1, not ${policy.max_retry}`)
  if (!(policy.find_time_secs > 0)) fail(`findtime must be > 0 seconds, not ${policy.find_time_secs}`)
  if (!Number.isInteger(policy.ban_time_secs) || (policy.ban_time_secs < 1 && policy.ban_time_secs !== -1)) {
    fail(`bantime must be whole seconds >= 1, or -1 for permanent, not ${policy.ban_time_secs}`)
  }
  if (!Number.isInteger(policy.max_matches) || policy.max_matches < 0) fail(`maxmatches must be a whole number >= 0, not ${policy.max_matches}`)
  if (!Number.isInteger(policy.ipv6_prefix) || policy.ipv6_prefix < 16 || policy.ipv6_prefix > 128) {
    fail(`the IPv6 prefix must be between 16 and 128 bits, not ${policy.ipv6_prefix}`)
  }
  return policy
}
