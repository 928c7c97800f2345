import { createTransport, type Transporter } from 'nodemailer'
import { formatAddress, parseAddress } from '../../schemas/events/address.js'
import type { BanIssued } from '../../schemas/events/ban-issued.js'
import type { Decision } from '../../schemas/events/decision.js'
import type { ActuationOutcome } from './actuator-backend.js'
import { banOver, outcome } from './backend-kit.js'
import { NotifierBackend } from './notifier-backend.js'
import { banMail, type MailJail } from './mail-message.js'
import { runCommand } from './run-command.js'

export interface MailActuatorOptions {
  /** The jails with this mail action on this host; decisions of other jails fail. */
  readonly jails: readonly MailJail[]
  /** The whois program, run as `whois <address>`; null = no lookups (the mail says so). Default `whois`. */
  readonly whois?: string | null
  /** How long a whois lookup may run before it is killed. Default 15 s. */
  readonly whois_timeout_ms?: number
  /** How long connecting to, greeting and talking with the SMTP server may each take. Default 30 s. */
  readonly smtp_timeout_ms?: number
  /** Wall clock in epoch milliseconds: a ban already over is not mailed. Default Date.now. */
  readonly now?: () => number
}

// Whois answers run to a few kilobytes; a larger one is cut rather than mailed whole.
const WHOIS_MAX_CHARS = 64 * 1024

/**
 * The mail backend: carries out fail2ban's sendmail-* / mail-* actions (see
 * mail-message.ts for which, and their arguments) by sending each ban's mail
 * itself over SMTP. Like those actions it mails bans only: an unban sends
 * nothing and is reported removed. A ban already over when it arrives (a
 * replay after an outage) is skipped, as fail2ban does not mail restored bans
 * (`norestored`). It keeps no state, so it has no reconcile.
 *
 * Only the re-serialised address reaches whois, as one argv element; the
 * subject holds nothing but it, the validated jail name and this host's name.
 * An SMTP error fails that ban's actuation; the server's queue, not this
 * backend, retries deliveries.
 */
export class MailActuator extends NotifierBackend {
  readonly name = 'mail'
  private readonly jails: ReadonlyMap<string, MailJail>
  private readonly whois: string | null
  private readonly whoisTimeoutMs: number
  private readonly smtpTimeoutMs: number
  private readonly now: () => number
  private readonly transports = new Map<string, Transporter>()

  constructor(options: MailActuatorOptions) {
    super()
    this.jails = new Map(options.jails.map((j) => [j.jail, j]))
    this.whois = options.whois === undefined ? 'whois' : options.whois
    this.whoisTimeoutMs = options.whois_timeout_ms ?? 15_000
    this.smtpTimeoutMs = options.smtp_timeout_ms ?? 30_000
    this.now = options.now ?? Date.now
  }

  protected async notify(d: Decision): Promise<ActuationOutcome> {
    const settings = this.jails.get(d.jail)
    if (settings === undefined) return outcome(d, 'failed', `jail ${d.jail} has no mail action on this host`)
    if (d.type === 'BanLifted') return outcome(d, 'removed')
    if (banOver(d, this.now())) return outcome(d, 'skipped', `the ban expired at ${d.expires_at}`)
    const address = parseAddress(d.ip)
    if (address === null) return outcome(d, 'failed', `${JSON.stringify(d.ip)} is not an address`)
    return this.send(settings, d, formatAddress(address))
  }

  private async send(settings: MailJail, ban: BanIssued, ip: string): Promise<ActuationOutcome> {
    const whois = settings.whois ? await this.lookUp(ip) : undefined
    const { subject, text } = banMail(settings, ban, ip, whois)
    try {
      await this.transport(settings).sendMail({
        from: { name: settings.sendername, address: settings.sender },
        to: [...settings.dest],
        subject,
        text,
        headers: { 'Auto-Submitted': 'auto-generated' },
      })
      return outcome(ban, 'applied')
    } catch (err) {
      return outcome(ban, 'failed', `mail to ${settings.smtp.host}:${settings.smtp.port}: ${(err as Error).message}`)
    }
  }

  /** The whois text of an address or network (looked up by its first address), or why there is none. */
  private async lookUp(ip: string): Promise<string> {
    if (this.whois === null) return 'whois lookups are turned off'
    const slash = ip.indexOf('/')
    const result = await runCommand([this.whois, slash < 0 ? ip : ip.slice(0, slash)], '', this.whoisTimeoutMs)
    if (result.code === null) return `whois failed: ${result.stderr.trim()}`
    const answer = result.stdout.trim() === '' ? result.stderr : result.stdout
    return answer.length > WHOIS_MAX_CHARS ? `${answer.slice(0, WHOIS_MAX_CHARS)}\n[whois answer cut at ${WHOIS_MAX_CHARS} characters]` : answer
  }

  private transport(settings: MailJail): Transporter {
    const { host, port, tls } = settings.smtp
    const key = `${tls}://${host}:${port}`
    let transport = this.transports.get(key)
    if (transport === undefined) {
      transport = createTransport({
        host: host.replace(/^\[(.*)\]$/, '$1'), port,
        secure: tls === 'tls', requireTLS: tls === 'starttls', ignoreTLS: tls === 'none',
        name: settings.hostname,
        connectionTimeout: this.smtpTimeoutMs, greetingTimeout: this.smtpTimeoutMs, socketTimeout: this.smtpTimeoutMs,
        // The body is text we compose; nothing in a message may make nodemailer read a file or fetch a URL.
        disableFileAccess: true, disableUrlAccess: true,
      })
      this.transports.set(key, transport)
    }
    return transport
  }
}
