import { hostname } from 'node:os'
import type { ActuatorBackend } from '../../sinks/actuators/actuator-backend.js'
import { ExecActuator, type ExecActuatorOptions } from '../../sinks/actuators/exec-actuator.js'
import { ExecInputError, type ExecAction } from '../../sinks/actuators/exec-commands.js'
import { FirewalldActuator, type FirewalldActuatorOptions } from '../../sinks/actuators/firewalld-actuator.js'
import { FIREWALLD_ACTIONS, firewalldJail, FirewalldInputError, type FirewalldJail } from '../../sinks/actuators/firewalld-commands.js'
import { IpsetActuator, type IpsetActuatorOptions } from '../../sinks/actuators/ipset-actuator.js'
import { ipsetJail, IpsetInputError, type IpsetJail } from '../../sinks/actuators/ipset-commands.js'
import { MailActuator, type MailActuatorOptions } from '../../sinks/actuators/mail-actuator.js'
import { MAIL_ACTIONS, mailJail, MailInputError, type MailJail } from '../../sinks/actuators/mail-message.js'
import { NftablesActuator, type NftablesActuatorOptions } from '../../sinks/actuators/nftables-actuator.js'
import { nftablesJail, NftablesInputError, type NftablesJail } from '../../sinks/actuators/nftables-commands.js'
import { PfActuator, type PfActuatorOptions } from '../../sinks/actuators/pf-actuator.js'
import { pfJail, PfInputError, type PfJail } from '../../sinks/actuators/pf-commands.js'
import { RouteActuator, type RouteActuatorOptions } from '../../sinks/actuators/route-actuator.js'
import { routeJail, RouteInputError, type RouteJail } from '../../sinks/actuators/route-commands.js'
import { readServices } from '../../sinks/actuators/services.js'
import { WebhookActuator, webhookJail, WebhookInputError, type WebhookActuatorOptions, type WebhookJail } from '../../sinks/actuators/webhook-actuator.js'
import type { JailConfig } from '../config/jail-config.js'
import type { Reference } from '../config/reference.js'
import { hasActionFile, loadExecAction } from './exec-action.js'

/** A jail's action as a backend kind sees it when the jail is set up. */
export interface ActionContext {
  readonly jail: JailConfig
  /** The action as jail.conf refers to it: the action.d file name and its arguments. */
  readonly ref: Reference
  /** The configuration tree the jail comes from (for action.d files). */
  readonly configDir: string
}

/** Settings for the backends, mostly for tests: run the tools elsewhere (a network namespace) or under other names. */
export interface ActionBackendOptions {
  readonly nftables?: Omit<NftablesActuatorOptions, 'jails'>
  readonly ipset?: Omit<IpsetActuatorOptions, 'jails'>
  readonly route?: Omit<RouteActuatorOptions, 'jails'>
  readonly pf?: Omit<PfActuatorOptions, 'jails'>
  readonly firewalld?: Omit<FirewalldActuatorOptions, 'jails'>
  readonly webhook?: Omit<WebhookActuatorOptions, 'jails'>
  readonly mail?: Omit<MailActuatorOptions, 'jails'>
  readonly exec?: Omit<ExecActuatorOptions, 'jails'>
}

/**
 * A kind of backend: which fail2ban actions it carries out, how it reads one
 * jail's action arguments, and how it is built for all its jails.
 */
export interface ActionBackendKind<J> {
  /**
   * The key of the backend that carries out this action, or undefined when
   * this kind does not. Kinds with one backend for every jail return their
   * name; a kind may return one key per action file. `configDir` is the
   * jail's configuration tree, for kinds that run its action.d files.
   */
  claims(ref: Reference, configDir?: string): string | undefined
  /** One jail's settings; throws InputError naming a value it refuses (a bad port, a hostile name). */
  jail(context: ActionContext): J
  /** The error `jail` throws for bad input: the action is then logged, not applied. */
  readonly InputError: new (...args: never[]) => Error
  create(jails: readonly J[], options: ActionBackendOptions): ActuatorBackend
}

let services: ReadonlyMap<string, number> | undefined
const knownServices = () => (services ??= readServices())

// fail2ban's nftables action files: nftables-allports is nftables with type=allports.
const NFTABLES_ACTIONS: Record<string, Record<string, string>> = {
  'nftables': {},
  'nftables-multiport': {},
  'nftables-allports': { type: 'allports' },
}

// fail2ban's iptables actions that the ipset backend carries out: the -ipset ones as they are, and
// iptables-multiport / -allports with a set in place of their per-address rules.
const IPSET_ACTIONS: Record<string, Record<string, string>> = {
  'iptables-ipset': {},
  'iptables-ipset-proto6': { type: 'multiport' },
  'iptables-ipset-proto6-allports': { type: 'allports' },
  'iptables-multiport': { type: 'multiport' },
  'iptables-allports': { type: 'allports' },
}

const nftablesKind: ActionBackendKind<NftablesJail> = {
  claims: (ref) => (ref.name in NFTABLES_ACTIONS ? 'nftables' : undefined),
  jail: ({ jail, ref }) => nftablesJail(jail.name, { ...ref.args, ...NFTABLES_ACTIONS[ref.name] }, knownServices()),
  InputError: NftablesInputError,
  create: (jails, options) => new NftablesActuator({ ...options.nftables, jails }),
}

const ipsetKind: ActionBackendKind<IpsetJail> = {
  claims: (ref) => (ref.name in IPSET_ACTIONS ? 'ipset' : undefined),
  jail: ({ jail, ref }) => ipsetJail(jail.name, { ...ref.args, ...IPSET_ACTIONS[ref.name] }, knownServices()),
  InputError: IpsetInputError,
  create: (jails, options) => new IpsetActuator({ ...options.ipset, jails }),
}

// fail2ban's route action: an unreachable (blackhole, prohibit) route per banned address.
const routeKind: ActionBackendKind<RouteJail> = {
  claims: (ref) => (ref.name === 'route' ? 'route' : undefined),
  jail: ({ jail, ref }) => routeJail(jail.name, ref.args),
  InputError: RouteInputError,
  create: (jails, options) => new RouteActuator({ ...options.route, jails }),
}

// fail2ban's pf action: a table and a block rule per jail in the anchor f2b/<name>.
const pfKind: ActionBackendKind<PfJail> = {
  claims: (ref) => (ref.name === 'pf' ? 'pf' : undefined),
  jail: ({ jail, ref }) => pfJail(jail.name, ref.args, knownServices()),
  InputError: PfInputError,
  create: (jails, options) => new PfActuator({ ...options.pf, jails }),
}

// fail2ban's firewallcmd-ipset, and -multiport / -new / -allports as the same rule over the jail's
// firewalld ipsets; the rich-rule actions stay with exec (zone rules per address, with logging).
const firewalldKind: ActionBackendKind<FirewalldJail> = {
  claims: (ref) => (ref.name in FIREWALLD_ACTIONS ? 'firewalld' : undefined),
  jail: ({ jail, ref }) => firewalldJail(jail.name, ref.name, ref.args, knownServices()),
  InputError: FirewalldInputError,
  create: (jails, options) => new FirewalldActuator({ ...options.firewalld, jails }),
}

// banstream's own action (config/action.d/webhook.conf): one backend for every jail.
const webhookKind: ActionBackendKind<WebhookJail> = {
  claims: (ref) => (ref.name === 'webhook' ? 'webhook' : undefined),
  jail: ({ jail, ref, configDir }) => webhookJail(jail.name, ref.args, configDir),
  InputError: WebhookInputError,
  create: (jails, options) => new WebhookActuator({ ...options.webhook, jails }),
}

// fail2ban's sendmail-* / mail-* actions, mailed over SMTP by banstream (mail-message.ts lists them and
// their arguments); one backend per action file, so a jail may send two kinds of mail.
const mailKind: ActionBackendKind<MailJail> = {
  claims: (ref) => (Object.hasOwn(MAIL_ACTIONS, ref.name) ? `mail:${ref.name}` : undefined),
  jail: ({ jail, ref }) => mailJail(jail.name, ref.name, ref.args, hostname()),
  InputError: MailInputError,
  create: (jails, options) => new MailActuator({ ...options.mail, jails }),
}

// Any other action.d file, run as fail2ban runs it (shell commands); last, so the kinds above keep theirs.
// One backend per action file.
const execKind: ActionBackendKind<ExecAction> = {
  claims: (ref, configDir) => (configDir !== undefined && hasActionFile(configDir, ref.name) ? `exec:${ref.name}` : undefined),
  jail: ({ jail, ref, configDir }) => loadExecAction(configDir, jail, ref),
  InputError: ExecInputError,
  create: (jails, options) => new ExecActuator({ ...options.exec, jails }),
}

/** The backends in the order they are asked: the first that claims an action carries it out. */
export const ACTION_BACKENDS: readonly ActionBackendKind<unknown>[] = [
  nftablesKind as ActionBackendKind<unknown>,
  ipsetKind as ActionBackendKind<unknown>,
  routeKind as ActionBackendKind<unknown>,
  pfKind as ActionBackendKind<unknown>,
  firewalldKind as ActionBackendKind<unknown>,
  webhookKind as ActionBackendKind<unknown>,
  mailKind as ActionBackendKind<unknown>,
  execKind as ActionBackendKind<unknown>,
]
