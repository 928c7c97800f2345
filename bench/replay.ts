/**
 * `banstream replay` against fail2ban-regex (issue 7): a generated mail/ssh log through every built-in
 * jail (the shipped jail.conf's jails, recidive aside: it reads banstream's own log), in process, as
 * `banstream replay` runs it; then fail2ban-regex running the same filters (with the jails' filter
 * options) one after another over the head of the same log, its total scaled to the whole log.
 *
 *   npx tsx bench/replay.ts [lines, default 1000000] [fail2ban-regex lines, default 100000; 0 skips it] [replay runs, default 3]
 *     [share of failure lines, default 0.2]
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveJailPolicies } from '../src/ignore/resolve-policies.js'
import { builtinConfigDir, packageRoot } from '../src/package-root.js'
import { replay } from '../src/roles/replay.js'
import { loadRunJails, type RunJail } from '../src/roles/run-jails.js'
import { generateMailLog } from './mail-log.js'
import { benchConfigDirFor } from './replay-config.js'

const LINES = Number(process.argv[2] ?? 1_000_000)
const F2B_LINES = Number(process.argv[3] ?? 100_000)
const RUNS = Number(process.argv[4] ?? 3)
const FAILURE_SHARE = Number(process.argv[5] ?? 0.2)
const FAIL2BAN_TREE = join(packageRoot(), '..', 'shared', 'fail2ban')

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'banstream-bench-replay-'))
  try {
    const log = join(dir, 'mail.log')
    const text = generateMailLog(LINES, { failureShare: FAILURE_SHARE })
    await writeFile(log, text)
    const jailNames = [...readFileSync(join(builtinConfigDir(), 'jail.conf'), 'utf8').matchAll(/^\[([^\]]+)\]/gm)]
      .map((m) => m[1]!).filter((name) => !['INCLUDES', 'DEFAULT', 'recidive'].includes(name))
    const configDir = await benchConfigDirFor(join(dir, 'config'), log, jailNames)
    const start = Date.parse('2026-01-01T00:00:00Z') / 1000
    const { jails, skipped } = loadRunJails(configDir, () => start + 365 * 86400)
    for (const s of skipped) console.log(`  skipped: ${s.reason}`)
    const policies = await resolveJailPolicies(jails.map((j) => j.policy), { self: async () => [], warn: () => undefined })
    console.log(`replay: ${LINES} lines (${(text.length / 1e6).toFixed(0)} MB, ${FAILURE_SHARE * 100}% failure lines), ${jails.length} jails: ${jails.map((j) => j.config.name).join(' ')}`)

    const rates: number[] = []
    let summary = ''
    for (let run = 0; run < RUNS; run++) {
      const t0 = performance.now()
      const result = await replay({ jails: jails.map((j) => j.match), policies, inputs: [{ path: log }] })
      const secs = (performance.now() - t0) / 1000
      rates.push(LINES / secs)
      const failures = result.jails.reduce((n, j) => n + j.failures, 0)
      const bans = result.jails.reduce((n, j) => n + j.bans.length, 0)
      summary = `${failures} failures, ${bans} bans`
      console.log(`  banstream replay run ${run + 1}: ${secs.toFixed(2)} s  ${(LINES / secs / 1e3).toFixed(0)} k lines/s  (${summary})`)
    }
    const best = Math.max(...rates)
    console.log(`  banstream replay: ${(Math.min(...rates) / 1e3).toFixed(0)}–${(best / 1e3).toFixed(0)} k lines/s over ${RUNS} runs, one core`)

    if (F2B_LINES <= 0) return
    const head = join(dir, 'head.log')
    await writeFile(head, text.split('\n').slice(0, F2B_LINES).join('\n') + '\n')
    let f2bSecs = 0
    let f2bMatched = 0
    for (const jail of jails) {
      const timed = fail2banRegex(head, jail)
      if (!timed) continue
      f2bSecs += timed.secs
      f2bMatched += timed.matched
    }
    if (f2bSecs === 0) {
      console.log('  fail2ban-regex ran none of the filters: no comparison (apt-get install fail2ban)')
      return
    }
    const f2bRate = F2B_LINES / f2bSecs
    console.log(`  fail2ban-regex, the ${jails.length} filters one after another over the first ${F2B_LINES} lines: ${f2bSecs.toFixed(1)} s, ` +
      `${(f2bRate / 1e3).toFixed(1)} k lines/s of log (${f2bMatched} matches); the whole log would take ~${(LINES / f2bRate).toFixed(0)} s`)
    console.log(`  ratio: banstream replay is ${(best / f2bRate).toFixed(0)}x fail2ban-regex's total (best run; ${(Math.min(...rates) / f2bRate).toFixed(0)}x slowest)`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** fail2ban-regex with fail2ban's own filter of the jail, with the jail's filter options (e.g. postfix[mode=rbl]). */
function fail2banRegex(log: string, jail: RunJail): { secs: number; matched: number } | undefined {
  const filter = jail.config.filter!
  const args = Object.entries(filter.args).map(([k, v]) => `${k}=${v}`)
  const ref = args.length > 0 ? `${filter.name}[${args.join(', ')}]` : filter.name
  const t0 = performance.now()
  const r = spawnSync('fail2ban-regex', ['--config', FAIL2BAN_TREE, log, ref], { encoding: 'utf8', maxBuffer: 1 << 28 })
  const secs = (performance.now() - t0) / 1000
  if (r.error || r.status !== 0) {
    console.log(`  fail2ban-regex ${ref}: ${r.error?.message ?? r.stderr.trim().split('\n').at(-1)}`)
    return undefined
  }
  const matched = Number(/Lines: \d+ lines, \d+ ignored, (\d+) matched/.exec(r.stdout)?.[1] ?? 0)
  return { secs, matched }
}

await main()
