import type { BanIssued } from '../../schemas/events/ban-issued.js'

/**
 * The mails of fail2ban's sendmail-* / mail-* actions, as banstream sends them
 * itself over SMTP (mail-actuator.ts). Nothing here sends anything: the
 * arguments are validated and the message composed, so what reaches the SMTP
 * server is what the tests read.
 *
 * The actions' own arguments, as fail2ban's [Init] has them:
 *
 *     dest        recipients, separated by commas or spaces     default root
 *     sender      envelope and From address                     default fail2ban
 *     sendername  From display name                              default Fail2Ban
 *     name        the name in the subject                        default the jail's name
 *     grepmax     the most lines a *-lines mail lists            default 1000
 *
 * An address without a domain (root, fail2ban) gets `@<fq-hostname>`, as
 * sendmail qualifies it; `<fq-hostname>` / `<sh-hostname>` in an argument
 * (jail.conf's `sender = root@<fq-hostname>`) are this host's names.
 *
 * banstream's own arguments, for the SMTP server the mail goes to:
 *
 *     smtp_host   server name or address                        default localhost
 *     smtp_port   port                                          default 25, 465 with smtp_tls=tls
 *     smtp_tls    none: plain SMTP, STARTTLS not used;
 *                 starttls: STARTTLS required, certificate verified;
 *                 tls: TLS from the start, certificate verified
 *                                                   default none for a loopback host, starttls otherwise
 *
 * e.g. `action = %(action_)s
 *                sendmail-whois-lines[dest="ops@example.net", smtp_host=relay.example.net]`
 */

/** Thrown for mail action arguments that must not reach a message or an SMTP server. */
export class MailInputError extends Error {
  readonly code = 'BANSTREAM_ERR_MAIL_INPUT'
  constructor(message: string) {
    super(message)
    this.name = 'MailInputError'
  }
}

/** What a ban mail holds beyond the greeting, after fail2ban's action of that name. */
export interface MailContent {
  /** Whether the whois text of the address is included. */
  readonly whois: boolean
  /**
   * Which heading the ban's matched lines go under: `lines` (*-whois-lines),
   * `matches`, `ipmatches`, `ipjailmatches` (their sendmail-whois-* actions), or
   * none.
   */
  readonly lines: 'none' | 'lines' | 'matches' | 'ipmatches' | 'ipjailmatches'
}

/** The fail2ban actions the mail backend carries out, by action.d file name. */
export const MAIL_ACTIONS: Readonly<Record<string, MailContent>> = {
  'sendmail': { whois: false, lines: 'none' },
  'sendmail-whois': { whois: true, lines: 'none' },
  'sendmail-whois-lines': { whois: true, lines: 'lines' },
  'sendmail-whois-matches': { whois: true, lines: 'matches' },
  'sendmail-whois-ipmatches': { whois: true, lines: 'ipmatches' },
  'sendmail-whois-ipjailmatches': { whois: true, lines: 'ipjailmatches' },
  'mail': { whois: false, lines: 'none' },
  'mail-whois': { whois: true, lines: 'none' },
  'mail-whois-lines': { whois: true, lines: 'lines' },
}

export type SmtpTls = 'none' | 'starttls' | 'tls'

/** One jail's mail action, validated. */
export interface MailJail extends MailContent {
  readonly jail: string
  /** The action.d file name, a key of MAIL_ACTIONS. */
  readonly action: string
  /** `<name>` of the subject and greeting. */
  readonly name: string
  readonly dest: readonly string[]
  readonly sender: string
  readonly sendername: string
  readonly grepmax: number
  /** This host's name as the mail names it (`<fq-hostname>`). */
  readonly hostname: string
  readonly smtp: { readonly host: string; readonly port: number; readonly tls: SmtpTls }
}

// An address as sendmail takes it on its command line: a dot-atom local part, an optional domain.
const ADDRESS = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?$/
const SMTP_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[?[0-9A-Fa-f:.]+\]?)$/
// Control characters (CR, LF among them) never belong in a name or a subject.
const CONTROL = /\p{Cc}/u
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])

/**
 * Validates a jail's mail action `action` (a key of MAIL_ACTIONS) with its
 * arguments; `hostname` is this host's fully qualified name.
 */
export function mailJail(jail: string, action: string, args: Readonly<Record<string, string>>, hostname: string): MailJail {
  const content = MAIL_ACTIONS[action]
  if (content === undefined) throw new MailInputError(`${action} is not a mail action`)
  const refuse = (what: string, value: string) => new MailInputError(`jail ${jail}: ${action} ${what} ${JSON.stringify(value)} is not allowed`)
  const arg = (key: string, fallback: string) => {
    const value = (args[key] ?? '').trim()
    return (value === '' ? fallback : value).replaceAll('<fq-hostname>', hostname).replaceAll('<sh-hostname>', hostname.split('.')[0]!)
  }
  const address = (what: string, value: string) => {
    if (!ADDRESS.test(value)) throw refuse(what, value)
    return value.includes('@') ? value : `${value}@${hostname}`
  }
  const text = (what: string, value: string) => {
    if (CONTROL.test(value)) throw refuse(what, value)
    return value
  }
  const dest = arg('dest', 'root').split(/[\s,]+/).filter((d) => d !== '').map((d) => address('dest', d))
  if (dest.length === 0) throw new MailInputError(`jail ${jail}: ${action} needs dest`)
  const grepmaxText = arg('grepmax', '1000')
  const grepmax = Number(grepmaxText)
  if (!Number.isInteger(grepmax) || grepmax < 1) throw refuse('grepmax', grepmaxText)
  return {
    jail, action, ...content,
    name: text('name', arg('name', jail)),
    dest,
    sender: address('sender', arg('sender', 'fail2ban')),
    sendername: text('sendername', arg('sendername', 'Fail2Ban')),
    grepmax,
    hostname: text('hostname', hostname),
    smtp: smtpServer(arg, refuse),
  }
}

function smtpServer(arg: (key: string, fallback: string) => string, refuse: (what: string, value: string) => MailInputError): MailJail['smtp'] {
  const host = arg('smtp_host', 'localhost')
  if (!SMTP_HOST.test(host)) throw refuse('smtp_host', host)
  const tls = arg('smtp_tls', LOOPBACK.has(host) ? 'none' : 'starttls')
  if (tls !== 'none' && tls !== 'starttls' && tls !== 'tls') throw refuse('smtp_tls', tls)
  const portText = arg('smtp_port', tls === 'tls' ? '465' : '25')
  const port = Number(portText)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw refuse('smtp_port', portText)
  return { host, port, tls }
}

/** A mail to send: the subject and the plain-text body. */
export interface MailMessage {
  readonly subject: string
  readonly text: string
}

/**
 * The mail of a ban, worded as fail2ban's action words it. `ip` is the
 * re-serialised address; `whois` the lookup's text, when the action has one.
 * The matched lines and the whois text come from the attacker's reach: they
 * only ever go into the body, as plain text.
 */
export function banMail(settings: MailJail, ban: BanIssued, ip: string, whois: string | undefined): MailMessage {
  const blocks = [
    `Hi,\n\nThe IP ${ip} has just been banned by Fail2Ban after\n${ban.failures} attempts against ${settings.name}.`,
  ]
  if (settings.whois) blocks.push(`Here is more information about ${ip} :\n\n${whois ?? ''}`.trimEnd())
  const lines = ban.matches.slice(-settings.grepmax).join('\n')
  switch (settings.lines) {
    case 'lines': blocks.push(`Lines containing failures of ${ip} (max ${settings.grepmax})\n${lines}`); break
    case 'matches': blocks.push(`Matches:\n\n${lines}`); break
    case 'ipmatches': blocks.push(`Matches with ${ban.failures} failures IP:${ip}\n${lines}`); break
    case 'ipjailmatches': blocks.push(`Matches for ${settings.name} with ${ban.failures} failures IP:${ip}\n${lines}`); break
    case 'none': break
  }
  blocks.push('Regards,\n\nFail2Ban')
  return {
    subject: `[Fail2Ban] ${settings.name}: banned ${ip} from ${settings.hostname}`,
    text: `${blocks.join('\n\n')}\n`,
  }
}
