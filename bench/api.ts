/**
 * The history API's speed (issue 5): a chDB store filled with N generated failures (see
 * generated-failures.ts) and left to finish merging the fill's parts, then the API (buildApi with the store) asked each route REQUESTS times with
 * varied parameters, p50/p99 per route, twice:
 * - alone: through Fastify's inject, one request at a time (what one request costs);
 * - under load: on a socket, with autocannon keeping CONNECTIONS requests in flight (what a client
 *   waits while others ask too; chDB runs a session's queries one at a time, so they queue).
 *
 *   npx tsx bench/api.ts [failures, default 10000000] [requests per route, default 200] [only routes whose name holds one of these, comma-separated] [connections, default 4]
 */
import autocannon from 'autocannon'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApi } from '../src/api/build-api.js'
import type { ControlPort } from '../src/api/control/control-port.js'
import { ChdbStore } from '../src/store/chdb-store.js'
import { migrateStore } from '../src/store/migrate.js'
import { address, attacker, END, failureJson, generatedFailures, HOSTS, JAILS, KEEP_FOREVER, START, USERS } from './generated-failures.js'
import { percentile, printMemory } from './report.js'
import { seededRandom } from './seeded-random.js'

const BATCH = 200_000

const control: ControlPort = {
  jails: async () => [...JAILS],
  status: async () => undefined,
  banned: async () => [],
  liftedSince: async () => [],
  ban: async () => [],
  unban: async () => 0,
  reload: async () => undefined,
}

/** p50/p99 of `requests` GETs of fresh `url()`s with `connections` in flight at once. */
async function underLoad(base: string, url: () => string, requests: number, connections: number): Promise<string> {
  const result = await autocannon({
    url: base, connections, amount: requests,
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: url() }) }],
  })
  const failed = result.errors + result.timeouts + result.non2xx
  if (failed > 0) throw new Error(`${failed} of ${requests} requests failed under load`)
  return `p50 ${result.latency.p50.toFixed(1)} ms, p99 ${result.latency.p99.toFixed(1)} ms, ${(result.requests.total / result.duration).toFixed(0)} requests/s`
}

/**
 * Waits until ClickHouse has no merge running, in ms. A bulk fill leaves tens of parts that the
 * engine merges for a while after, on the same two cores as the queries; a store that has held its
 * history for a while has merged them.
 */
async function mergesDone(store: ChdbStore): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    const [running] = await store.query<{ n: number }>('SELECT count() AS n FROM system.merges')
    if (running?.n === 0) return performance.now() - t0
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/** The failures table's partitions (weeks), oldest first, with their active parts. */
async function failuresParts(store: ChdbStore): Promise<{ partition_id: string; parts: number }[]> {
  return store.query("SELECT partition_id, count() AS parts FROM system.parts WHERE active AND table = 'failures' AND database = currentDatabase() " +
    'GROUP BY partition_id ORDER BY partition_id')
}

/**
 * The failures table's weekly partitions but the latest merged into one part each: what
 * min_age_to_force_merge_seconds does to a week an hour after it ends (see EVENT_TABLES), which the
 * fill, a month written in minutes, never waits for. The latest week is left as the merges left it,
 * as the current week of a live store is. Returns the number of weeks merged.
 */
async function ageWeeks(store: ChdbStore): Promise<number> {
  const weeks = (await failuresParts(store)).slice(0, -1)
  for (const { partition_id: week } of weeks) {
    if (!/^\d+$/.test(week)) throw new Error(`unexpected partition id ${week}`)
    await store.command(`OPTIMIZE TABLE failures PARTITION ID '${week}' FINAL`)
  }
  return weeks.length
}

async function main(total: number, requests: number, only: string, connections: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-api-'))
  const store = ChdbStore.open(dir)
  try {
    await migrateStore(store, KEEP_FOREVER)
    const r = seededRandom(7)
    let insertMs = 0
    const t0 = performance.now()
    for (let n = 0; n < total; n += BATCH) {
      const events = failureJson(generatedFailures(n, Math.min(BATCH, total - n), total, r))
      const i0 = performance.now()
      await store.insertEvents('failures', events)
      insertMs += performance.now() - i0
    }
    const fillMs = performance.now() - t0
    console.log(`api: ${total} failures stored (chDB, ${BATCH} rows per insert): ${(total / (insertMs / 1000) / 1e3).toFixed(0)} k rows/s in insert, ` +
      `${(total / (fillMs / 1000) / 1e3).toFixed(0)} k rows/s with generation (${(fillMs / 1000).toFixed(0)} s)`)
    console.log(`  background merges of the fill's parts done ${(await mergesDone(store) / 1000).toFixed(0)} s later: the routes run over the store at rest`)
    const aged = await ageWeeks(store)
    console.log(`  the ${aged} weeks before the latest each merged into one part, as an hour after its end in a live store`)
    const weeks = await failuresParts(store)
    console.log(`  failures in ${weeks.reduce((n, w) => n + w.parts, 0)} parts over ${weeks.length} partitions, ${weeks.at(-1)?.parts ?? 0} of them in the latest`)

    const app = buildApi({ control, store, tokens: undefined, bind: '127.0.0.1', rateLimit: false, now: () => END })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    const q = seededRandom(11)
    const day = (): [string, string] => {
      const from = START + Math.floor(q() * 29) * 86_400_000
      return [new Date(from).toISOString(), new Date(from + 86_400_000).toISOString()]
    }
    const week = (): [string, string] => {
      const from = START + Math.floor(q() * 23) * 86_400_000
      return [new Date(from).toISOString(), new Date(from + 7 * 86_400_000).toISOString()]
    }
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(q() * xs.length)]!
    const routes: [string, () => string][] = [
      ['/v1/ips/{ip}', () => `/v1/ips/${encodeURIComponent(address(attacker(q)))}`],
      ['/v1/events (jail, host, day)', () => { const [from, to] = day(); return `/v1/events?jail=${pick(JAILS)}&host=${pick(HOSTS)}&from=${from}&to=${to}` }],
      ['/v1/events (ip, month)', () => `/v1/events?ip=${encodeURIComponent(address(attacker(q)))}&from=${new Date(START).toISOString()}&to=${new Date(END).toISOString()}`],
      ['/v1/events (/16 CIDR, user, week)', () => { const [from, to] = week(); return `/v1/events?ip=${encodeURIComponent(`${pick([198, 203, 45, 185, 91])}.${Math.floor(q() * 2)}.0.0/16`)}&user=${pick(USERS)}&from=${from}&to=${to}` }],
      ['/v1/stats/top (week)', () => { const [from, to] = week(); return `/v1/stats/top?by=${pick(['ip', 'subnet24', 'subnet64', 'user', 'jail', 'host'])}&from=${from}&to=${to}&limit=20` }],
      ['/v1/stats/timeseries (week)', () => { const [from, to] = week(); return `/v1/stats/timeseries?interval=1h&by=${pick(['jail', 'host'])}&from=${from}&to=${to}` }],
    ]
    for (const [name, url] of routes.filter(([name]) => only.split(',').some((part) => name.includes(part)))) {
      const first = await app.inject({ method: 'GET', url: url() })
      if (first.statusCode !== 200) throw new Error(`${name}: ${first.statusCode} ${first.body.slice(0, 300)}`)
      const ms: number[] = []
      for (let i = 0; i < requests; i++) {
        const u = url()
        const s = performance.now()
        const res = await app.inject({ method: 'GET', url: u })
        ms.push(performance.now() - s)
        if (res.statusCode !== 200) throw new Error(`${u}: ${res.statusCode} ${res.body.slice(0, 300)}`)
      }
      ms.sort((a, b) => a - b)
      console.log(`  ${name}: alone p50 ${percentile(ms, 0.5).toFixed(1)} ms, p99 ${percentile(ms, 0.99).toFixed(1)} ms, max ${ms.at(-1)!.toFixed(1)} ms (${requests} requests)`)
      console.log(`  ${' '.repeat(name.length)}  ${connections} connections: ${await underLoad(base, url, requests, connections)}`)
    }
    printMemory('  ')
    await app.close()
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
}

const [total, requests, only, connections] = process.argv.slice(2)
await main(Number(total ?? 10_000_000), Number(requests ?? 200), only ?? '', Number(connections ?? 4))
