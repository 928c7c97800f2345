import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { runCommand } from '../../sinks/actuators/run-command.js'

/**
 * Two hosts on one machine for firewall tests: a server and a client network
 * namespace joined by a veth pair, 192.0.2.1 / 2001:db8::1 (server) and
 * 192.0.2.2 / 2001:db8::2 (client).
 */
export interface NamespacePair {
  readonly server: string
  readonly client: string
  remove(): Promise<void>
}

export async function sh(...argv: string[]): Promise<string> {
  const r = await runCommand(argv, '', 10_000)
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`)
  return r.stdout
}

/** Why namespace tests cannot run here, or false when they can. */
export async function namespaceSkipReason(): Promise<string | false> {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespace tests need root'
  const probe = `bs-probe-${randomBytes(3).toString('hex')}`
  const added = await runCommand(['ip', 'netns', 'add', probe], '', 5_000)
  if (added.code !== 0) return `ip netns unavailable: ${added.stderr.trim() || 'ip not found'}`
  await runCommand(['ip', 'netns', 'del', probe], '', 5_000)
  const nft = await runCommand(['nft', '--version'], '', 5_000)
  return nft.code === 0 ? false : `nft unavailable: ${nft.stderr.trim()}`
}

/** Why the ipset + iptables namespace tests cannot run here, or false when they can. */
export async function ipsetSkipReason(): Promise<string | false> {
  const ns = await namespaceSkipReason()
  if (ns) return ns
  for (const tool of [['ipset', '-v'], ['iptables-restore', '-V'], ['ip6tables-restore', '-V']]) {
    const r = await runCommand(tool, '', 5_000)
    if (r.code !== 0) return `${tool[0]} unavailable: ${r.stderr.trim()}`
  }
  return false
}

export async function namespacePair(): Promise<NamespacePair> {
  const id = randomBytes(3).toString('hex')
  const server = `bs-srv-${id}`
  const client = `bs-cli-${id}`
  const remove = async () => {
    await runCommand(['ip', 'netns', 'del', server], '', 5_000)
    await runCommand(['ip', 'netns', 'del', client], '', 5_000)
  }
  try {
    await sh('ip', 'netns', 'add', server)
    await sh('ip', 'netns', 'add', client)
    await sh('ip', 'link', 'add', `bs-s-${id}`, 'netns', server, 'type', 'veth', 'peer', 'name', `bs-c-${id}`, 'netns', client)
    for (const [ns, dev, n] of [[server, `bs-s-${id}`, 1], [client, `bs-c-${id}`, 2]] as const) {
      await sh('ip', '-n', ns, 'addr', 'add', `192.0.2.${n}/24`, 'dev', dev)
      await sh('ip', '-n', ns, '-6', 'addr', 'add', `2001:db8::${n}/64`, 'dev', dev, 'nodad')
      await sh('ip', '-n', ns, 'link', 'set', dev, 'up')
      await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    }
  } catch (error) {
    await remove()
    throw error
  }
  return { server, client, remove }
}

/** Connects from a namespace: 'connected', 'refused' (reject), 'timeout' (drop) or an error code. */
export async function connectFrom(ns: string, host: string, port: number, waitMs = 800): Promise<string> {
  const script = `const [h, p, t] = process.argv.slice(1); const done = (r) => { console.log(r); process.exit(0) };
    setTimeout(() => done('timeout'), Number(t));
    require('net').connect({ host: h, port: Number(p) }).on('connect', () => done('connected'))
      .on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : e.code))`
  return (await sh('ip', 'netns', 'exec', ns, process.execPath, '-e', script, host, String(port), String(waitMs))).trim()
}

/** A TCP server in a namespace on `port` (IPv4 and IPv6) that accepts and closes each connection; close() kills it. */
export function serveIn(ns: string, port: number): { close(): Promise<void> } {
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
    `require('net').createServer((s) => s.end()).listen(${port}, '::')`], { stdio: 'ignore' })
  return {
    close: async () => {
      if (server.exitCode !== null || server.signalCode !== null) return
      const exited = new Promise((r) => server.once('exit', r))
      server.kill('SIGKILL')
      await exited
    },
  }
}
