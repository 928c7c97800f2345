import type { Writable } from 'node:stream'
import { Argument, Command } from 'commander'
import {
  BanList, BanResults, JAIL_NAME_PATTERN, JailList, JailStatus, ReloadResult, UnbanResult,
} from '../../schemas/api/control.js'
import { isAddressText } from '../api/control/address-format.js'
import { DEFAULT_CONTROL_PORT } from '../api/api-settings.js'
import { formatBanned, formatJailStatus, formatStatus } from './client-format.js'
import { ClientError, ControlHttp } from './client-http.js'

export const DEFAULT_CONTROL_URL = `http://127.0.0.1:${DEFAULT_CONTROL_PORT}`

/** Read when --token is absent: a token on the command line shows in `ps`. */
export const TOKEN_ENV = 'BANSTREAM_CONTROL_TOKEN'

export interface ClientIo {
  stdout: Writable
  stderr: Writable
  env: NodeJS.ProcessEnv
  setExitCode(code: number): void
}

interface ClientOptions {
  json?: boolean
  url: string
  token?: string
}

const JAIL_NAME = new RegExp(JAIL_NAME_PATTERN)

// Checked before a URL is built: a name like `..` would otherwise walk to another route.
function jailPath(jail: string): string {
  if (!JAIL_NAME.test(jail)) throw new ClientError(`${jail}: not a jail name (letters, digits, '_', '.' and '-')`)
  return `v1/jails/${encodeURIComponent(jail)}`
}

function checkAddresses(ips: string[]): string[] {
  const bad = ips.find((ip) => !isAddressText(ip))
  if (bad !== undefined) throw new ClientError(`${bad}: not an IP address or CIDR network`)
  return ips
}

const json = (value: unknown): string => `${JSON.stringify(value)}\n`

/** One client subcommand: its answer as text on stdout, or one line on stderr and exit code 2. */
function action<A extends unknown[]>(io: ClientIo, run: (http: ControlHttp, opts: ClientOptions, ...args: A) => Promise<string>) {
  return async (...args: [...A, ClientOptions, Command]): Promise<void> => {
    const opts = args[args.length - 2] as ClientOptions
    try {
      const http = new ControlHttp(opts.url, opts.token ?? (io.env[TOKEN_ENV] || undefined))
      io.stdout.write(await run(http, opts, ...(args.slice(0, -2) as A)))
      io.setExitCode(0)
    } catch (err) {
      if (!(err instanceof ClientError)) throw err
      io.stderr.write(`banstream: ${err.message.split('\n')[0]}\n`)
      io.setExitCode(2)
    }
  }
}

function withConnection(cmd: Command): Command {
  return cmd
    .option('--json', 'print the API answer as JSON')
    .option('--url <url>', 'the control API of the running banstream', DEFAULT_CONTROL_URL)
    .option('--token <token>', `bearer token (default: $${TOKEN_ENV})`)
}

const processIo: ClientIo = {
  stdout: process.stdout, stderr: process.stderr, env: process.env,
  setExitCode: (code) => { process.exitCode = code },
}

/** `banstream client ...`: fail2ban-client's commands, and its text layouts, against the control API. */
export function clientCommand(io: ClientIo = processIo): Command {
  const client = new Command('client')
    .description('drive a running banstream as fail2ban-client drives fail2ban')
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })

  withConnection(client.command('status').description('the jails, or one jail\'s counters and bans').argument('[jail]'))
    .action(action(io, async (http, opts, jail: string | undefined) => {
      if (jail === undefined) {
        const list = await http.request('GET', 'v1/jails', JailList)
        return opts.json ? json(list) : formatStatus(list.jails)
      }
      const status = await http.request('GET', jailPath(jail), JailStatus)
      return opts.json ? json(status) : formatJailStatus(status)
    }))

  withConnection(client.command('set').description('ban or unban addresses in one jail')
    .argument('<jail>')
    .addArgument(new Argument('<command>').choices(['banip', 'unbanip']))
    .argument('<ips...>'))
    .action(action(io, async (http, opts, jail: string, command: string, ips: string[]) => {
      const path = jailPath(jail)
      checkAddresses(ips)
      if (command === 'banip') {
        const answer = await http.request('POST', `${path}/bans`, BanResults, { ips })
        return opts.json ? json(answer) : `${answer.results.filter((r) => r.result === 'banned').length}\n`
      }
      let unbanned = 0
      for (const ip of ips) unbanned += (await http.request('DELETE', `${path}/bans/${encodeURIComponent(ip)}`, UnbanResult)).unbanned
      return opts.json ? json({ unbanned }) : `${unbanned}\n`
    }))

  withConnection(client.command('banned').description('the banned addresses of every jail'))
    .action(action(io, async (http, opts) => {
      const bans = await http.request('GET', 'v1/bans', BanList)
      if (opts.json) return json(bans)
      return formatBanned((await http.request('GET', 'v1/jails', JailList)).jails, bans.bans)
    }))

  withConnection(client.command('unban').description('end bans in every jail: the given addresses, or --all')
    .argument('[ips...]')
    .option('--all', 'end every ban'))
    .action(action(io, async (http, opts: ClientOptions & { all?: boolean }, ips: string[]) => {
      if (Boolean(opts.all) === (ips.length > 0)) throw new ClientError('unban: give addresses or --all, not both or neither')
      const query = opts.all ? '' : `?${checkAddresses(ips).map((ip) => `ip=${encodeURIComponent(ip)}`).join('&')}`
      const answer = await http.request('DELETE', `v1/bans${query}`, UnbanResult)
      return opts.json ? json(answer) : `${answer.unbanned}\n`
    }))

  withConnection(client.command('reload').description('reread the configuration; bans stay'))
    .action(action(io, async (http, opts) => {
      const answer = await http.request('POST', 'v1/reload', ReloadResult)
      return opts.json ? json(answer) : `${answer.status}\n`
    }))

  return client
}
