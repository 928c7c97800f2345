import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contains, formatAddress, parseAddress, type Address } from '../../schemas/events/address.js'
import type { CommandResult } from './run-command.js'

/**
 * Ends the established flows (conntrack entries) from banned addresses, so
 * that a flow an earlier rule accepts as established (a SIP dialogue over UDP)
 * stops too. One listing per family finds the flows; only their sources are
 * deleted, each re-serialised from a parsed address, all in one conntrack run
 * (`-R <file>`: a file of delete commands, conntrack-tools 1.4.6 and later)
 * rather than one per address, which dominated a large batch of bans. Where
 * that run fails, or deletes nothing though flows were listed (an older
 * conntrack), each source is deleted on its own. Returns a warning when
 * conntrack failed, undefined otherwise.
 */
export async function endFlows(
  run: (argv: readonly string[]) => Promise<CommandResult>,
  conntrack: string,
  banned: readonly string[],
): Promise<string | undefined> {
  if (banned.length === 0) return undefined
  const exact = new Set<string>()
  const networks: Address[] = []
  for (const text of banned) {
    const a = parseAddress(text)
    if (!a) continue
    if (a.prefix === (a.family === 4 ? 32 : 128)) exact.add(formatAddress(a))
    else networks.push(a)
  }
  const problems: string[] = []
  for (const family of ['ipv4', 'ipv6'] as const) {
    if (![...exact].some((t) => (family === 'ipv4') === !t.includes(':')) && !networks.some((n) => (n.family === 4) === (family === 'ipv4'))) continue
    const listing = await run([conntrack, '-L', '-f', family])
    if (listing.code !== 0) { problems.push(listing.stderr.trim()); continue }
    const sources = new Set<string>()
    for (const line of listing.stdout.split('\n')) {
      const src = /\bsrc=(\S+)/.exec(line)?.[1]
      const a = src === undefined ? null : parseAddress(src)
      if (!a) continue
      const text = formatAddress(a)
      if (exact.has(text) || networks.some((n) => contains(n, a))) sources.add(text)
    }
    if (sources.size === 0) continue
    const together = await deleteAll(run, conntrack, [...sources].map((src) => `-D -f ${family} -s ${src}\n`).join(''))
    // Each deleted flow is a line on stdout; none at all means the deletes did not run.
    if (together.code === 0 && together.stdout.trim() !== '') continue
    for (const src of sources) {
      const deleted = await run([conntrack, '-D', '-f', family, '-s', src])
      // Exit 1 with "0 flow entries" is a flow that ended between the listing and now.
      if (deleted.code !== 0 && !/\b0 flow entries/.test(deleted.stderr)) problems.push(deleted.stderr.trim())
    }
  }
  return problems.length === 0 ? undefined : `ending flows failed: ${problems.join('; ')}`
}

/** Runs `commands` through `conntrack -R`, from a file: conntrack opens /dev/stdin, which Node's stdin pipe (a socket) cannot be. */
async function deleteAll(run: (argv: readonly string[]) => Promise<CommandResult>, conntrack: string, commands: string): Promise<CommandResult> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-conntrack-'))
  try {
    const file = join(dir, 'deletes')
    await writeFile(file, commands, { mode: 0o600 })
    return await run([conntrack, '-R', file])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
