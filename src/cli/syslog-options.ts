import type { Command } from 'commander'
import { isLoopbackBind } from '../api/control/bind-address.js'
import { parseListenAddress } from '../api/listen-address.js'
import { senderList, type SyslogListen, type SyslogServerConfig } from '../sources/syslog-server.js'
import { UsageError } from './usage-error.js'

export interface SyslogFlags {
  syslogUdp?: string
  syslogTcp?: string
  syslogAllow: string[]
}

const LOOPBACK_SENDERS = ['127.0.0.0/8', '::1']

/** Adds the options that start a syslog server beside a role's other sources. */
export function withSyslog(command: Command): Command {
  return command
    .option('--syslog-udp <host:port>', 'receive syslog datagrams here (e.g. 0.0.0.0:514); jails with backend = syslog read them')
    .option('--syslog-tcp <host:port>', 'receive syslog over TCP here, newline or octet-counting framing (e.g. 0.0.0.0:514)')
    .option('--syslog-allow <network>', 'an address or network that may send syslog (repeatable; default loopback only, required when listening beyond it)',
      (value: string, previous: string[]) => [...previous, value], [])
}

/**
 * The syslog server the flags ask for, or undefined without --syslog-udp and --syslog-tcp. Every line
 * a sender writes can get an address banned, so listening beyond loopback needs the senders named.
 */
export function syslogOf(flags: SyslogFlags): Omit<SyslogServerConfig, 'log' | 'now'> | undefined {
  const udp = flags.syslogUdp === undefined ? undefined : listenOf('--syslog-udp', flags.syslogUdp)
  const tcp = flags.syslogTcp === undefined ? undefined : listenOf('--syslog-tcp', flags.syslogTcp)
  if (!udp && !tcp) {
    if (flags.syslogAllow.length > 0) throw new UsageError('--syslog-allow names senders of a syslog server: add --syslog-udp or --syslog-tcp')
    return undefined
  }
  const beyondLoopback = [udp, tcp].find((at) => at && !isLoopbackBind(at.address!))
  if (beyondLoopback && flags.syslogAllow.length === 0) {
    throw new UsageError(`syslog on ${beyondLoopback.address}: name the hosts that may send with --syslog-allow <network> (a sender's lines can get any address banned)`)
  }
  const allowed = flags.syslogAllow.length > 0 ? flags.syslogAllow : LOOPBACK_SENDERS
  try {
    senderList(allowed)
  } catch (error) {
    throw new UsageError(`--syslog-allow: ${(error as Error).message}`)
  }
  return { ...(udp ? { udp } : {}), ...(tcp ? { tcp } : {}), allowed_senders: allowed }
}

function listenOf(option: string, text: string): SyslogListen {
  const at = parseListenAddress(text)
  if (at === undefined) throw new UsageError(`${option} ${text}: use host:port, [v6-address]:port or :port`)
  return { address: at.host, port: at.port }
}
