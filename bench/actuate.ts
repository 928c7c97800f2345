/**
 * The actuators' speed (issue 6) on real firewalls in a network namespace (root, nft, ipset, iptables).
 *
 *   latency  decisions appended to an embedded log and carried out by the ActuateWorker with the
 *            nftables backend: decision append time → the Actuation's occurred_at (taken once nft has
 *            applied the batch), per decision. A steady rate (default 200/s for 30 s), then a burst
 *            (default 10 000 decisions in one append). Target: p99 < 1 s.
 *   bulk     100 000 bans at once: NftablesActuator.apply (and IpsetActuator.apply) on 100 000
 *            BanIssued, and the same appended to the log and carried out by the worker; checked by
 *            counting the set's elements. Target (nftables): < 10 s.
 *   flows    the nftables apply again with a tracked flow (a conntrack entry made with conntrack -I) from
 *            some of the banned addresses (default 1 000), which the ban ends: the cost of conntrack.
 *
 * Every command runs through `ip netns exec`, which adds a few ms to each nft, ipset or conntrack run.
 * Each part is a fresh process, namespace and data dir, so none warms another.
 *
 *   npx tsx bench/actuate.ts [decisions/s, default 200] [seconds, default 30] [burst, default 10000] [bulk bans, default 100000]
 *                            [banned addresses with a flow, default 1000]
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Actuation } from '../schemas/events/actuation.js'
import type { BanIssued } from '../schemas/events/ban-issued.js'
import { partitionKey, Topics } from '../schemas/topics.js'
import type { ActuatorBackend } from '../sinks/actuators/actuator-backend.js'
import { IpsetActuator } from '../sinks/actuators/ipset-actuator.js'
import { ipsetJail, ipsetSetName } from '../sinks/actuators/ipset-commands.js'
import { NftablesActuator } from '../sinks/actuators/nftables-actuator.js'
import { nftablesJail, nftablesSetName } from '../sinks/actuators/nftables-commands.js'
import { runCommand } from '../sinks/actuators/run-command.js'
import { Fail2banLog } from '../sinks/fail2ban-log.js'
import { EmbeddedLog } from '../src/log/embedded-log.js'
import type { ProducedRecord } from '../src/log/log.js'
import { readToEnd } from '../src/log/read-to-end.js'
import { ActuateWorker } from '../src/roles/actuate-worker.js'
import type { JailActions } from '../src/roles/jail-actions.js'
import { ipsetSkipReason, namespacePair, sh, type NamespacePair } from '../test/netns/netns-kit.js'
import { percentile, printMemory } from './report.js'

const here = fileURLToPath(import.meta.url)
const JAIL = 'sshd'
const BAN_SECS = 3600
const APPEND_CHUNK = 5000
const DRAIN_LIMIT_MS = 300_000
type Backend = 'nftables' | 'ipset'

async function main(rate: number, seconds: number, burst: number, bulk: number, flows: number): Promise<void> {
  const skip = await skipReason()
  if (skip) {
    console.log(`actuate: skipped: ${skip}`)
    return
  }
  console.log(`actuate: real firewalls in a network namespace; ${(await sh('nft', '--version')).trim()}, ${(await sh('ipset', '-v')).trim()}`)
  part('latency', [String(rate), String(seconds), String(burst)])
  for (const backend of ['nftables', 'ipset']) for (const via of ['apply', 'worker']) part('bulk', [backend, via, String(bulk)])
  part('flows', [String(bulk), String(flows)])
}

async function skipReason(): Promise<string | false> {
  const ipset = await ipsetSkipReason()
  if (ipset) return ipset
  const conntrack = await runCommand(['conntrack', '--version'], '', 5_000)
  return conntrack.code === 0 ? false : `conntrack unavailable: ${conntrack.stderr.trim()}`
}

function part(name: string, args: string[]): void {
  const r = spawnSync(process.execPath, [...process.execArgv, here, name, ...args], { stdio: 'inherit' })
  if (r.status !== 0) process.exitCode = 1
}

/** The i-th address of 198.18.0.0/15 (RFC 2544's benchmarking range): 131 072 distinct addresses. */
function benchAddress(i: number): string {
  return `198.${18 + ((i >> 16) & 1)}.${(i >> 8) & 255}.${i & 255}`
}

function ban(i: number, now: number): BanIssued {
  return {
    type: 'BanIssued', event_id: `bench-ban-${i}`, cause_event_id: `bench-failure-${i}`, jail: JAIL, ip: benchAddress(i), failures: 5,
    ban_time_secs: BAN_SECS, ban_count: 1, expires_at: new Date(now + BAN_SECS * 1000).toISOString(), occurred_at: new Date(now).toISOString(),
    reason: 'threshold', matches: [],
  }
}

function record(decision: BanIssued, timestamp: number): ProducedRecord {
  return { key: Buffer.from(partitionKey(decision.ip)), value: Buffer.from(JSON.stringify(decision)), timestamp }
}

const ipsetBenchJail = (maxelem: number) => ipsetJail(JAIL, { port: '22', protocol: 'tcp', blocktype: 'DROP', maxelem: String(maxelem) }, new Map())

/** A backend acting inside `ns` for the one bench jail; `maxelem` sizes ipset's sets for the bulk part. */
function backendIn(ns: string, backend: Backend, maxelem: number): ActuatorBackend {
  const inNs = { command_prefix: ['ip', 'netns', 'exec', ns], command_timeout_ms: 120_000 }
  if (backend === 'ipset') return new IpsetActuator({ ...inNs, jails: [ipsetBenchJail(maxelem)] })
  return new NftablesActuator({ ...inNs, jails: [nftablesJail(JAIL, { port: '22', protocol: 'tcp', blocktype: 'drop' }, new Map())] })
}

/** How many elements the jail's IPv4 address set holds, as the firewall lists it. */
async function elementCount(ns: string, backend: Backend): Promise<number> {
  if (backend === 'ipset') {
    const terse = await sh('ip', 'netns', 'exec', ns, 'ipset', 'list', '-terse', ipsetSetName(ipsetBenchJail(1), 4))
    return Number(/^Number of entries: (\d+)$/m.exec(terse)?.[1] ?? NaN)
  }
  const listing = JSON.parse(await sh('ip', 'netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'banstream', nftablesSetName(JAIL, 4, false))) as
    { nftables: { set?: { elem?: unknown[] } }[] }
  return listing.nftables.reduce((n, item) => n + (item.set?.elem?.length ?? 0), 0)
}

/** A worker over a fresh embedded log whose one jail's action is `backend`. */
async function startWorker(dir: string, backend: ActuatorBackend): Promise<{ log: EmbeddedLog; stop(): Promise<void> }> {
  const log = await EmbeddedLog.open({ dataDir: join(dir, 'log'), fsync: 'never', report: (p) => console.error(`log: ${p.kind}: ${p.reason}`) })
  for (const topic of [Topics.decisions.name, Topics.actuations.name]) await log.createTopic(topic, 1)
  const fail2banLog = new Fail2banLog({ path: join(dir, 'fail2ban.log') })
  const actions: JailActions = { of: () => [{ backend: backend.name, text: `${backend.name}[port=ssh]` }], backends: new Map([[backend.name, backend]]) }
  const worker = ActuateWorker.start({ log, host: 'bench', fail2banLog, actions: () => actions, report: (p) => console.error(`log: ${p.kind}: ${p.reason}`) })
  return {
    log,
    stop: async () => {
      await worker.stop()
      await fail2banLog.close()
      await log.close()
    },
  }
}

/** Waits until the log holds `count` actuations (or DRAIN_LIMIT_MS passed); returns them. */
async function actuations(log: EmbeddedLog, count: number): Promise<Actuation[]> {
  const waitUntil = Date.now() + DRAIN_LIMIT_MS
  while ((await log.endOffsets(Topics.actuations.name))[0]! < count && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 20))
  const all: Actuation[] = []
  for await (const r of readToEnd(log, Topics.actuations.name)) all.push(JSON.parse(r.value.toString()) as Actuation)
  return all
}

/** Per decision, its append time → its actuation's occurred_at, sorted; and how many failed. */
function latencies(appendedAt: ReadonlyMap<string, number>, done: readonly Actuation[]): { sorted: number[]; failed: number } {
  const sorted: number[] = []
  let failed = 0
  for (const a of done) {
    const at = appendedAt.get(a.decision_event_id)
    if (at === undefined) continue
    if (a.outcome !== 'applied') failed++
    sorted.push(Date.parse(a.occurred_at) - at)
  }
  return { sorted: sorted.sort((x, y) => x - y), failed }
}

function printLatency(what: string, { sorted, failed }: { sorted: number[]; failed: number }, asked: number): void {
  console.log(`  ${what}: ${sorted.length}/${asked} carried out${failed > 0 ? ` (${failed} NOT applied)` : ''}; ` +
    `p50 ${percentile(sorted, 0.5)} ms, p99 ${percentile(sorted, 0.99)} ms, max ${sorted.at(-1)} ms (target p99 < 1000 ms)`)
}

async function inNamespace(prefix: string, body: (pair: NamespacePair, dir: string) => Promise<void>): Promise<void> {
  const pair = await namespacePair()
  const dir = await mkdtemp(join(tmpdir(), prefix))
  try {
    await body(pair, dir)
  } finally {
    await pair.remove()
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}

async function latencyPart(rate: number, seconds: number, burst: number): Promise<void> {
  await inNamespace('banstream-bench-actuate-latency-', async (pair, dir) => {
    const backend = backendIn(pair.server, 'nftables', 1)
    const setup = await backend.setup()
    if (!setup.ok) throw new Error(`nftables setup: ${setup.error}`)
    const { log, stop } = await startWorker(dir, backend)
    try {
      const appendedAt = new Map<string, number>()
      const total = Math.round(rate * seconds)
      const t0 = Date.now()
      let sent = 0
      while (sent < total) {
        const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate) + 1)
        const batch: ProducedRecord[] = []
        for (; sent < due; sent++) {
          const now = Date.now()
          const decision = ban(sent, now)
          appendedAt.set(decision.event_id, now)
          batch.push(record(decision, now))
        }
        if (batch.length > 0) await log.append(Topics.decisions.name, batch)
        await new Promise((resolve) => setTimeout(resolve, 2))
      }
      printLatency(`steady, nftables via the worker, ${rate}/s for ${seconds} s`, latencies(appendedAt, await actuations(log, total)), total)

      appendedAt.clear()
      const now = Date.now()
      const records = Array.from({ length: burst }, (_, i) => {
        const decision = ban(total + i, now)
        appendedAt.set(decision.event_id, now)
        return record(decision, now)
      })
      await log.append(Topics.decisions.name, records)
      printLatency(`burst, nftables via the worker, ${burst} decisions in one append`, latencies(appendedAt, await actuations(log, total + burst)), burst)
      console.log(`  set holds ${await elementCount(pair.server, 'nftables')} elements (expected ${total + burst})`)
      printMemory('  ')
    } finally {
      await stop()
    }
  })
}

async function bulkPart(kind: Backend, via: 'apply' | 'worker', count: number): Promise<void> {
  await inNamespace('banstream-bench-actuate-bulk-', async (pair, dir) => {
    const backend = backendIn(pair.server, kind, Math.max(65536, 2 ** Math.ceil(Math.log2(count))))
    const setup = await backend.setup()
    if (!setup.ok) throw new Error(`${kind} setup: ${setup.error}`)
    const now = Date.now()
    const bans = Array.from({ length: count }, (_, i) => ban(i, now))
    let ms: number
    let failed: number
    if (via === 'apply') {
      const t0 = performance.now()
      const outcomes = await backend.actuate(bans)
      ms = performance.now() - t0
      failed = outcomes.filter((o) => o.outcome !== 'applied').length
    } else {
      const { log, stop } = await startWorker(dir, backend)
      try {
        const t0 = performance.now()
        for (let i = 0; i < bans.length; i += APPEND_CHUNK) {
          await log.append(Topics.decisions.name, bans.slice(i, i + APPEND_CHUNK).map((b) => record(b, now)))
        }
        const done = await actuations(log, count)
        ms = performance.now() - t0
        failed = count - done.filter((a) => a.outcome === 'applied').length
      } finally {
        await stop()
      }
    }
    const held = await elementCount(pair.server, kind)
    console.log(`  ${count} bans at once, ${kind}, ${via === 'apply' ? `${kind === 'nftables' ? 'NftablesActuator' : 'IpsetActuator'}.actuate` : 'appended to the log, via the worker'}: ` +
      `${(ms / 1000).toFixed(2)} s (${Math.round(count / (ms / 1000))} bans/s), ${failed} not applied, set holds ${held}` +
      `${held === count ? '' : ` — EXPECTED ${count}`}${kind === 'nftables' ? ' (target < 10 s)' : ''}`)
    printMemory('  ')
    if (held !== count || failed > 0) process.exitCode = 1
  })
}

async function flowsPart(count: number, withFlow: number): Promise<void> {
  await inNamespace('banstream-bench-actuate-flows-', async (pair, dir) => {
    const inNs = (...argv: string[]) => sh('ip', 'netns', 'exec', pair.server, ...argv)
    const file = join(dir, 'flows')
    await writeFile(file, Array.from({ length: withFlow }, (_, i) =>
      `-I -s ${benchAddress(i)} -d 192.0.2.1 -p tcp --sport ${40000 + (i % 20000)} --dport 22 --state ESTABLISHED -t 600 -u SEEN_REPLY\n`).join(''))
    await inNs('conntrack', '-R', file)
    const before = Number((await inNs('conntrack', '-C')).trim())
    const backend = backendIn(pair.server, 'nftables', 1)
    const setup = await backend.setup()
    if (!setup.ok) throw new Error(`nftables setup: ${setup.error}`)
    const now = Date.now()
    const t0 = performance.now()
    const outcomes = await backend.actuate(Array.from({ length: count }, (_, i) => ban(i, now)))
    const ms = performance.now() - t0
    const left = Number((await inNs('conntrack', '-C')).trim())
    const warned = outcomes.find((o) => o.warning !== undefined)?.warning
    console.log(`  ${count} bans at once, nftables, NftablesActuator.actuate, ${before} of the addresses with a tracked flow: ` +
      `${(ms / 1000).toFixed(2)} s, flows left ${left}${warned ? `, warning: ${warned}` : ''} (conntrack deletes each source with a dump of the table)`)
    if (left !== 0 || warned) process.exitCode = 1
  })
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'latency') await latencyPart(Number(args[0]), Number(args[1]), Number(args[2]))
else if (mode === 'bulk') await bulkPart(args[0] as Backend, args[1] as 'apply' | 'worker', Number(args[2]))
else if (mode === 'flows') await flowsPart(Number(args[0]), Number(args[1]))
else await main(Number(mode ?? 200), Number(args[0] ?? 30), Number(args[1] ?? 10_000), Number(args[2] ?? 100_000), Number(args[3] ?? 1000))
