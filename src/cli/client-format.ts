import type { BanList, JailStatus } from '../../schemas/api/control.js'

/*
 * fail2ban-client's text layouts, byte for byte: a tab follows each label's colon
 * (terminals show it as padding to the next multiple of 8 columns), list values
 * are joined by single spaces, the jail list by ", ".
 */

/** `fail2ban-client status <jail>`. */
export function formatJailStatus(status: JailStatus): string {
  const { filter, actions } = status
  return [
    `Status for the jail: ${status.name}`,
    '|- Filter',
    `|  |- Currently failed:\t${filter.currently_failed}`,
    `|  |- Total failed:\t${filter.total_failed}`,
    `|  \`- File list:\t${filter.file_list.join(' ')}`,
    '`- Actions',
    `   |- Currently banned:\t${actions.currently_banned}`,
    `   |- Total banned:\t${actions.total_banned}`,
    `   \`- Banned IP list:\t${actions.banned_ip_list.join(' ')}`,
  ].join('\n') + '\n'
}

/** `fail2ban-client status`. */
export function formatStatus(jails: string[]): string {
  return `Status\n|- Number of jail:\t${jails.length}\n\`- Jail list:\t${jails.join(', ')}\n`
}

function pyString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

/**
 * `fail2ban-client banned`: fail2ban prints the Python list it gets back, one
 * `{jail: [ip, ...]}` per jail in jail order, jails without bans included.
 */
export function formatBanned(jails: string[], bans: BanList['bans']): string {
  const byJail = new Map(jails.map((jail) => [jail, [] as string[]]))
  for (const ban of bans) {
    let ips = byJail.get(ban.jail)
    if (!ips) byJail.set(ban.jail, ips = [])
    ips.push(ban.ip)
  }
  const entries = [...byJail].map(([jail, ips]) => `{${pyString(jail)}: [${ips.map(pyString).join(', ')}]}`)
  return `[${entries.join(', ')}]\n`
}
