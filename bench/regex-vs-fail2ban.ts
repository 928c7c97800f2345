/**
 * `banstream regex` against `fail2ban-regex` (apt-get install fail2ban) on the same 200k-line mixed
 * mail/ssh log with the sshd filter: wall time of each whole command (median of runs), the ratio, and
 * the matched-line counts each reports, so the comparison is of the same work.
 *
 *   npx tsx bench/regex-vs-fail2ban.ts [lines, default 200000] [runs, default 3]
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packageRoot } from '../src/package-root.js'
import { generateMailLog } from './mail-log.js'

const LINES = Number(process.argv[2] ?? 200_000)
const RUNS = Number(process.argv[3] ?? 3)
const root = packageRoot()
const dir = mkdtempSync(join(tmpdir(), 'banstream-bench-'))
const log = join(dir, 'mail.log')
writeFileSync(log, generateMailLog(LINES))
// The log is tens of MB: a bench run leaves nothing behind.
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

interface Timed { secs: number; matched: string }

function timeCommand(cmd: string, args: string[]): Timed | undefined {
  const times: number[] = []
  let matched = '?'
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 })
    const secs = Number(process.hrtime.bigint() - t0) / 1e9
    if (r.error || r.status !== 0) {
      console.log(`  ${cmd}: ${r.error?.message ?? r.stderr.split('\n')[0]}`)
      return undefined
    }
    times.push(secs)
    matched = /Lines: (\d+) lines, (\d+) ignored, (\d+) matched/.exec(r.stdout)?.[3] ?? '?'
  }
  times.sort((a, b) => a - b)
  return { secs: times[Math.floor(times.length / 2)]!, matched }
}

console.log(`regex: ${LINES} lines, sshd filter, median of ${RUNS} runs`)
// The command as installed: package.json's bin.
const bin = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { banstream: string } }).bin.banstream)
const ours = timeCommand(process.execPath, [bin, 'regex', log, 'sshd'])
if (ours) console.log(`  banstream regex:  ${ours.secs.toFixed(3)} s  ${(LINES / ours.secs / 1e3).toFixed(0)} k lines/s  matched ${ours.matched}`)
const theirs = timeCommand('fail2ban-regex', [log, join(root, '..', 'shared', 'fail2ban', 'filter.d', 'sshd.conf')])
if (theirs) console.log(`  fail2ban-regex:   ${theirs.secs.toFixed(3)} s  ${(LINES / theirs.secs / 1e3).toFixed(0)} k lines/s  matched ${theirs.matched}`)
else console.log('  fail2ban-regex not available: apt-get install fail2ban')
if (ours && theirs) console.log(`  ratio: banstream is ${(theirs.secs / ours.secs).toFixed(1)}x faster (wall time, whole command)`)
