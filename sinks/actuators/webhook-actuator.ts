import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import type { Decision } from '../../schemas/events/decision.js'
import type { WebhookPayload } from '../../schemas/notifications/webhook-payload.js'
import type { ActuationOutcome } from './actuator-backend.js'
import { outcome } from './backend-kit.js'
import { NotifierBackend } from './notifier-backend.js'

/**
 * The webhook action, `webhook[url="https://…", secret_file=…, timeout=10, retries=3]`
 * (config/action.d/webhook.conf documents the same options): every ban and
 * unban of the jail is POSTed to `url` as JSON (schemas/notifications/webhook-payload.ts:
 * the decision's fields plus `host`, the sending host), with these headers:
 *
 *     X-Banstream-Event-Id:  the decision's event_id (the same on a redelivery: dedup on it)
 *     X-Banstream-Timestamp: seconds since the epoch when this attempt was sent
 *     X-Banstream-Signature: sha256=<hex HMAC-SHA256, keyed with the secret, of "<timestamp>.<body>">
 *
 * To verify a request: compute the HMAC over the X-Banstream-Timestamp value,
 * a dot and the raw body bytes as received; compare it with the signature in
 * constant time; refuse a timestamp more than a few minutes from your clock,
 * so a captured request cannot be replayed later.
 *
 * Delivery: a 2xx answer is success; a 5xx answer, a timeout or a network
 * error is retried `retries` times with a doubling delay, then the decision
 * fails with the last error; any other answer (4xx, a redirect, which is not
 * followed) fails at once.
 */

/** Thrown for webhook action arguments that cannot work: a bad URL, an unreadable secret, a bad number. */
export class WebhookInputError extends Error {
  readonly code = 'BANSTREAM_ERR_WEBHOOK_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'WebhookInputError'
  }
}

/** One jail's webhook action, validated. */
export interface WebhookJail {
  readonly jail: string
  readonly url: URL
  /** The HMAC key: the secret file's content without trailing white space. */
  readonly secret: Buffer
  /** How long one attempt may take before it counts as failed. */
  readonly timeout_secs: number
  /** Attempts after the first one for a 5xx answer, a timeout or a network error. */
  readonly retries: number
}

export const DEFAULT_WEBHOOK_TIMEOUT_SECS = 10
export const DEFAULT_WEBHOOK_RETRIES = 3
const MAX_RETRIES = 10

/**
 * Validates a jail's webhook arguments: `url` (http or https, no user:password),
 * `secret_file` (read now; relative to `configDir`), `timeout` in seconds, `retries`.
 */
export function webhookJail(jail: string, args: Readonly<Record<string, string>>, configDir: string): WebhookJail {
  const url = parseUrl(jail, args['url'] ?? '')
  const secretFile = args['secret_file'] ?? ''
  if (secretFile === '') throw new WebhookInputError(`jail ${jail}: webhook needs secret_file (the file holding the HMAC key)`)
  let secret: Buffer
  try {
    secret = Buffer.from(readFileSync(resolve(configDir, secretFile), 'utf8').trimEnd(), 'utf8')
  } catch (err) {
    throw new WebhookInputError(`jail ${jail}: cannot read the webhook secret_file ${secretFile}: ${(err as Error).message}`)
  }
  if (secret.length === 0) throw new WebhookInputError(`jail ${jail}: the webhook secret_file ${secretFile} is empty`)
  const timeout_secs = number(jail, 'timeout', args['timeout'], DEFAULT_WEBHOOK_TIMEOUT_SECS, (n) => n > 0 && n <= 600)
  const retries = number(jail, 'retries', args['retries'], DEFAULT_WEBHOOK_RETRIES, (n) => Number.isInteger(n) && n >= 0 && n <= MAX_RETRIES)
  return { jail, url, secret, timeout_secs, retries }
}

function parseUrl(jail: string, text: string): URL {
  if (text === '') throw new WebhookInputError(`jail ${jail}: webhook needs url`)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new WebhookInputError(`jail ${jail}: webhook url ${JSON.stringify(text)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookInputError(`jail ${jail}: webhook url must be http or https, not ${url.protocol}`)
  }
  // fetch refuses credentials in the URL; say so when the action is loaded, not at the first ban.
  if (url.username !== '' || url.password !== '') throw new WebhookInputError(`jail ${jail}: webhook url must not carry a user or password`)
  return url
}

function number(jail: string, name: string, text: string | undefined, fallback: number, valid: (n: number) => boolean): number {
  if (text === undefined || text.trim() === '') return fallback
  const n = Number(text)
  if (!Number.isFinite(n) || !valid(n)) throw new WebhookInputError(`jail ${jail}: webhook ${name}=${JSON.stringify(text)} is out of range`)
  return n
}

/** The X-Banstream-Signature value for a body sent at `timestamp` (seconds, as in X-Banstream-Timestamp). */
export function webhookSignature(secret: Buffer, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

export interface WebhookActuatorOptions {
  /** The jails with a webhook action on this host; decisions of other jails fail. */
  readonly jails: readonly WebhookJail[]
  /** The `host` of every payload. Default os.hostname(). */
  readonly host?: string
  /** Wall clock in epoch milliseconds, for X-Banstream-Timestamp. Default Date.now. */
  readonly now?: () => number
  /** Waits between attempts. Default a timer. */
  readonly sleep?: (ms: number) => Promise<void>
  /** The wait before the first retry, doubled before each next one. Default 1000 ms. */
  readonly retry_delay_ms?: number
}

type Attempt = { readonly ok: true } | { readonly ok: false; readonly retry: boolean; readonly error: string }

/** The webhook backend: POSTs each decision of its jails as the top of this file describes. */
export class WebhookActuator extends NotifierBackend {
  readonly name = 'webhook'
  private readonly jails: ReadonlyMap<string, WebhookJail>
  private readonly host: string
  private readonly now: () => number
  private readonly sleep: (ms: number) => Promise<void>
  private readonly retryDelayMs: number

  constructor(options: WebhookActuatorOptions) {
    super()
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.host = options.host ?? hostname()
    this.now = options.now ?? Date.now
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)))
    this.retryDelayMs = options.retry_delay_ms ?? 1000
  }

  protected async notify(d: Decision): Promise<ActuationOutcome> {
    const jail = this.jails.get(d.jail)
    if (jail === undefined) return outcome(d, 'failed', `jail ${d.jail} has no webhook action on this host`)
    const payload: WebhookPayload = { ...d, host: this.host }
    const body = JSON.stringify(payload)
    for (let attempt = 0; ; attempt++) {
      const result = await this.post(jail, d.event_id, body)
      if (result.ok) return outcome(d, d.type === 'BanIssued' ? 'applied' : 'removed')
      if (!result.retry || attempt >= jail.retries) {
        return outcome(d, 'failed', attempt === 0 ? result.error : `${result.error} (after ${attempt + 1} attempts)`)
      }
      await this.sleep(this.retryDelayMs * 2 ** attempt)
    }
  }

  private async post(jail: WebhookJail, eventId: string, body: string): Promise<Attempt> {
    const timestamp = String(Math.floor(this.now() / 1000))
    // Errors name the origin only: the path or query of a webhook URL often holds a token.
    const origin = jail.url.origin
    try {
      const response = await fetch(jail.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'banstream',
          'x-banstream-event-id': eventId,
          'x-banstream-timestamp': timestamp,
          'x-banstream-signature': webhookSignature(jail.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(jail.timeout_secs * 1000),
      })
      const text = await response.text()
      if (response.status >= 200 && response.status < 300) return { ok: true }
      const excerpt = text.trim().slice(0, 200)
      return { ok: false, retry: response.status >= 500, error: `${origin} answered HTTP ${response.status}${excerpt === '' ? '' : `: ${excerpt}`}` }
    } catch (err) {
      return { ok: false, retry: true, error: `${origin}: ${describe(err)}` }
    }
  }
}

// fetch reports a refused connection as "fetch failed" with the reason in `cause`.
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const cause = err.cause instanceof Error ? err.cause.message : undefined
  return cause === undefined ? err.message : `${err.message}: ${cause}`
}
