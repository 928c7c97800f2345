import { spawn, type ChildProcess } from 'node:child_process'
import { parseAddress, formatAddress } from '../../schemas/events/address.js'
import { ConfigError } from '../config/errors.js'
import { DurationSyntaxError, str2seconds } from '../config/fail2ban-seconds.js'
import type { JailConfig } from '../config/jail-config.js'
import { parseReference } from '../config/reference.js'
import { shellWords } from '../config/shell-words.js'
import { ExpiringCache } from '../filters/expiring-cache.js'

/** What an ignorecommand is asked about: the fields of a FailureDetected it may name. */
export interface IgnoreQuestion {
  readonly ip: string
  readonly user?: string
  readonly fid?: string
}

/** fail2ban's `ignorecache`: which results are kept, under which key, how many and how long. */
export interface IgnoreCacheSpec {
  /** The cache key with tags (`<ip>`, `<F-USER>`, ...), e.g. `<ip>`: failures with one key share one answer. */
  readonly key: string
  /** At most this many answers are kept (fail2ban's default 100). */
  readonly max_count: number
  /** An answer is kept this long (fail2ban's default 5 minutes). */
  readonly max_time_secs: number
}

export interface IgnoreCommandOptions {
  /** The command is killed (with its children) and the failure counted after this long; fail2ban's default is 60 s. */
  readonly timeoutMs?: number
  /** The jail's ignorecache; without one, answers are kept per command line, 100 of them, 5 minutes each. */
  readonly cache?: IgnoreCacheSpec
  /** Told of every command that could not answer: the failure is then counted, as fail2ban counts it. */
  readonly warn: (msg: string) => void
  /** Seconds since the epoch, for the cache; injected for tests. */
  readonly now?: () => number
}

const DEFAULT_TIMEOUT_MS = 60_000
const KILL_GRACE_MS = 1000
const MAX_STDERR_CHARS = 300
const TAG_RE = /<([^ <>]+)>/g
// Text a log line put in <F-USER>/<F-ID> becomes a whole argument: no blanks, quotes or shell
// characters, and no leading '-' that the command could read as an option.
const SAFE_VALUE = /^(?:[\p{L}\p{N}_.@+:][\p{L}\p{N}_.@+:-]{0,255})?$/u
// Words that only mean something to a shell; here they would reach the command as arguments.
const SHELL_SYNTAX = /^(?:\||\|\||&&?|;|>>?|<|2>&1|2>)$|\$\(|`/

/** A failure field that may not go into a command line; the failure is then counted. */
class UnsafeValueError extends Error {}

/**
 * A jail's `ignorecommand`, run as fail2ban runs it but without a shell: the
 * command text is split into words once, and `<ip>`, `<family>`, `<fid>`,
 * `<F-ID>` and `<F-USER>` are put into each word afterwards, so a value can
 * never become two arguments or shell code. Exit 0: the failure is ignored;
 * 1: it counts; anything else, a timeout or a command that cannot start: it
 * counts and `warn` is told (fail2ban logs an error). Answers are cached.
 */
export class IgnoreCommand {
  private readonly argv: readonly string[]
  private readonly timeoutMs: number
  private readonly cacheKey: string | null
  private readonly cache: ExpiringCache<boolean>
  private readonly pending = new Map<string, Promise<boolean>>()
  private readonly warn: (msg: string) => void

  constructor(readonly jail: string, command: string, opts: IgnoreCommandOptions) {
    let argv: string[]
    try {
      argv = shellWords(command)
    } catch (err) {
      throw new ConfigError(`jail [${jail}]: ignorecommand: ${(err as Error).message}`, undefined, 'ignorecommand')
    }
    if (argv.length === 0) throw new ConfigError(`jail [${jail}]: ignorecommand is empty`, undefined, 'ignorecommand')
    if (argv[0]!.includes('<')) throw new ConfigError(`jail [${jail}]: ignorecommand: the program '${argv[0]}' may not be a tag`, undefined, 'ignorecommand')
    this.argv = argv
    this.warn = opts.warn
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.cacheKey = opts.cache?.key ?? null
    this.cache = new ExpiringCache(opts.cache?.max_count ?? 100, opts.cache?.max_time_secs ?? 300, opts.now ?? (() => Date.now() / 1000))
    const shellWord = argv.find((word) => SHELL_SYNTAX.test(word))
    if (shellWord !== undefined) {
      this.warn(`jail [${jail}]: ignorecommand contains '${shellWord}', which only a shell understands; banstream runs the command without a shell, so it is passed as an argument (wrap the command in a script)`)
    }
  }

  /** The cached answer for this failure, or undefined when the command would have to run. */
  cached(failure: IgnoreQuestion): boolean | undefined {
    try {
      return this.cache.get(this.key(failure))
    } catch {
      return undefined
    }
  }

  /** Whether the command says to ignore this failure. Never rejects. */
  isIgnored(failure: IgnoreQuestion): Promise<boolean> {
    let argv: string[]
    let key: string
    try {
      argv = this.commandLine(failure)
      key = this.key(failure, argv)
    } catch (err) {
      if (!(err instanceof UnsafeValueError)) throw err
      this.warn(`[${this.jail}] ignorecommand not run for ${JSON.stringify(failure.ip)}: ${err.message}; the failure counts`)
      return Promise.resolve(false)
    }
    const cached = this.cache.get(key)
    if (cached !== undefined) return Promise.resolve(cached)
    let pending = this.pending.get(key)
    if (!pending) {
      pending = this.run(argv).then((ignored) => {
        this.cache.set(key, ignored)
        this.pending.delete(key)
        return ignored
      })
      this.pending.set(key, pending)
    }
    return pending
  }

  private commandLine(failure: IgnoreQuestion): string[] {
    const tags = failureTags(failure)
    return this.argv.map((word, i) => (i === 0 ? word : substitute(word, tags)))
  }

  // With ignorecache its key; otherwise the command line itself, so answers are kept per (jail, argv).
  private key(failure: IgnoreQuestion, argv?: readonly string[]): string {
    if (this.cacheKey !== null) return substitute(this.cacheKey, failureTags(failure))
    return JSON.stringify(argv ?? this.commandLine(failure))
  }

  private run(argv: readonly string[]): Promise<boolean> {
    const [program, ...args] = argv as [string, ...string[]]
    const what = `[${this.jail}] ignorecommand ${JSON.stringify(argv)}`
    return new Promise((resolve) => {
      let settled = false
      let timer: NodeJS.Timeout | undefined
      let child: ChildProcess
      const finish = (ignored: boolean, problem?: string) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        // Whatever the command left running must not keep a pipe to us.
        child?.stderr?.destroy()
        if (problem !== undefined) this.warn(`${what} ${problem}; the failure counts`)
        resolve(ignored)
      }
      try {
        // spawn rather than execFile: execFile cannot start the command in its own process group,
        // and a timeout must kill what the command started too (fail2ban kills the tree). No shell either way.
        child = spawn(program, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
      } catch (err) {
        return finish(false, `could not run: ${(err as Error).message}`)
      }
      let stderr = ''
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-MAX_STDERR_CHARS)
      })
      child.on('error', (err) => finish(false, `could not run: ${err.message}`))
      // 'exit', not 'close': something the command left running may hold stderr open.
      child.on('exit', (code, signal) => {
        if (code === 0) return finish(true)
        if (code === 1) return finish(false)
        const output = stderr.trim() === '' ? '' : `: ${stderr.trim()}`
        finish(false, code !== null ? `exited with code ${code}${output}` : `was killed by ${signal}${output}`)
      })
      timer = setTimeout(() => {
        killGroup(child)
        finish(false, `timed out after ${this.timeoutMs} ms`)
      }, this.timeoutMs)
    })
  }
}

/**
 * Whether its jail's ignorecommand ignores a failure: synchronously when the
 * answer is cached or the jail has none (the hot path), else once the command
 * answered. Success lines are never asked about.
 */
export function ignoredByCommand(commands: ReadonlyMap<string, IgnoreCommand>, failure: IgnoreQuestion & { readonly jail: string; readonly success?: boolean }): boolean | Promise<boolean> {
  const command = failure.success ? undefined : commands.get(failure.jail)
  if (!command) return false
  return command.cached(failure) ?? command.isIgnored(failure).catch(() => false)
}

/** The ignorecommand of each jail that has one, with its ignorecache, by jail name. */
export function ignoreCommandsOf(jails: readonly JailConfig[], opts: Omit<IgnoreCommandOptions, 'cache'>): Map<string, IgnoreCommand> {
  const commands = new Map<string, IgnoreCommand>()
  for (const jail of jails) {
    const command = jail.options['ignorecommand']?.trim() ?? ''
    if (command === '') continue
    const cacheText = jail.options['ignorecache']?.trim() ?? ''
    const cache = cacheText === '' ? undefined : parseIgnoreCache(jail.name, cacheText)
    commands.set(jail.name, new IgnoreCommand(jail.name, command, { ...opts, ...(cache ? { cache } : {}) }))
  }
  return commands
}

/** Reads `ignorecache = key="<ip>", max-count=100, max-time=5m` as fail2ban does (options of `cache[...]`). */
export function parseIgnoreCache(jail: string, text: string): IgnoreCacheSpec {
  const fail = (why: string): never => {
    throw new ConfigError(`jail [${jail}]: ignorecache = ${JSON.stringify(text)}: ${why}`, undefined, 'ignorecache')
  }
  const { args } = parseReference(`cache[${text}]`)
  const key = args['key']
  if (key === undefined || key === '') fail('key is required, e.g. key="<ip>"')
  const countText = args['max-count'] ?? '100'
  if (!/^\d+$/.test(countText) || Number(countText) < 1) fail('max-count must be a whole number of at least 1')
  let maxTime = 300
  if (args['max-time'] !== undefined) {
    try {
      maxTime = str2seconds(args['max-time'])
    } catch (err) {
      if (err instanceof DurationSyntaxError) fail(`max-time: ${err.message}`)
      throw err
    }
    if (!(maxTime > 0)) fail('max-time must be more than 0 seconds')
  }
  return { key: key!, max_count: Number(countText), max_time_secs: maxTime }
}

type Tags = (tag: string) => string | undefined

/** The tags of one failure; a value is checked only when a command or key uses it. */
function failureTags(failure: IgnoreQuestion): Tags {
  return (tag) => {
    switch (tag) {
      case 'ip': return address(failure).text
      case 'family': return address(failure).family
      case 'fid': return failure.fid === undefined ? address(failure).text : safe('<fid>', failure.fid)
      case 'F-ID': return safe('<F-ID>', failure.fid ?? '')
      case 'F-USER': return safe('<F-USER>', failure.user ?? '')
      default: return undefined
    }
  }
}

function address(failure: IgnoreQuestion): { text: string; family: string } {
  const parsed = parseAddress(failure.ip)
  if (parsed === null) throw new UnsafeValueError(`${JSON.stringify(failure.ip)} is not an IP address`)
  return { text: formatAddress(parsed), family: parsed.family === 4 ? 'inet4' : 'inet6' }
}

function safe(tag: string, value: string): string {
  if (!SAFE_VALUE.test(value)) {
    throw new UnsafeValueError(`${tag} ${JSON.stringify(value.slice(0, 100))} has characters that may not go into a command line`)
  }
  return value
}

// One pass, so a value that itself looks like a tag stays text; unknown tags stay as written, as in fail2ban.
function substitute(word: string, tags: Tags): string {
  return word.replace(TAG_RE, (whole, tag: string) => tags(tag) ?? whole)
}

function killGroup(child: ChildProcess): void {
  const pid = child.pid
  if (pid === undefined) return
  const kill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pid, signal)
    } catch {
      // Already gone.
    }
  }
  kill('SIGTERM')
  // As fail2ban: SIGKILL only if the command itself outlived SIGTERM (its group id is then still its own).
  setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) kill('SIGKILL')
  }, KILL_GRACE_MS).unref()
}
