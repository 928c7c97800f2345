import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { from, lastValueFrom, toArray } from 'rxjs'
import { loadFilter } from '../../src/config/filter-config.js'
import { compileFilter } from '../../src/filters/compiled-filter.js'
import { registerMatchMetrics } from '../../src/roles/match-metrics.js'
import type { LineBatch } from '../../src/sources/source.js'
import { match, MatchCounters } from '../../streams/match.js'

const SAMPLE_NOW = 1124013600
const sshd = compileFilter(loadFilter(join(process.cwd(), 'config/filter.d'), 'sshd'), { localZone: 'Europe/Zurich', now: () => SAMPLE_NOW })

function batch(stream: string, host: string, lines: string[]): LineBatch {
  return { stream, host, lines: lines.map((l) => Buffer.from(l)), received_at: 1_700_000_000_000 }
}

test('/metrics shows what the match stage counted: lines and failures by jail, unrouted lines, forgotten streams', async () => {
  const counters = new MatchCounters()
  const registry = new Registry()
  registerMatchMetrics(registry, counters)
  const failure = 'Feb 25 14:34:10 belka sshd[31602]: Failed password for invalid user ROOT from 194.117.26.69 port 50273 ssh2'
  await lastValueFrom(from([
    batch('/var/log/auth.log', 'a', [failure, 'Feb 25 14:34:11 belka sshd[31602]: Connection closed by 194.117.26.69 port 50273 [preauth]']),
    batch('/var/log/auth.log', 'b', [failure]),
    batch('/var/log/syslog', 'a', ['Feb 25 14:34:12 belka cron[1]: (root) CMD (true)']),
  ]).pipe(match([{ name: 'sshd', filter: sshd, logpath: ['/var/log/auth.log'] }], { counters, maxStreams: 1 }), toArray()))
  const text = await registry.metrics()
  assert.match(text, /^banstream_match_lines_total\{jail="sshd"\} 3$/m)
  assert.match(text, /^banstream_match_failures_total\{jail="sshd"\} 2$/m)
  assert.match(text, /^banstream_match_dropped_failures_total\{jail="sshd",reason="unparseable_host"\} 0$/m)
  assert.match(text, /^banstream_match_unrouted_lines_total 1$/m)
  assert.match(text, /^banstream_match_streams_forgotten_total 2$/m)
  assert.match(text, /^banstream_match_line_errors_total 0$/m)
})
