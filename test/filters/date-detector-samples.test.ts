// The date of every failing sample line in the conformance corpus, read with the
// datepattern its fail2ban filter declares, against the failJSON time.
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadFilter } from '../../src/config/filter-config.js'
import { failJsonTime, parseSampleLog, type Options } from '../../src/conformance/sample-log.js'
import { DateDetector } from '../../src/filters/date-detector.js'
import { packageRoot } from '../../src/package-root.js'

const SHARED = join(packageRoot(), '..', 'shared')
const LOGS = join(SHARED, 'conformance', 'logs')
const FILTERS = join(SHARED, 'fail2ban', 'filter.d')
const SAMPLE_NOW = 1124013600

const files = readdirSync(LOGS).filter((f) => statSync(join(LOGS, f)).isFile() && existsSync(join(FILTERS, f + '.conf')))

for (const name of files) {
  test(`dates of the ${name} sample lines are the failJSON times`, () => {
    let fileOpts: Options = {}
    let detectors: { d: DateDetector; journal: boolean }[] | null = null
    const make = (opts: Options) => {
      const all = { ...fileOpts, ...opts }
      const filterOpts = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('test.')))
      const def = loadFilter(FILTERS, name, filterOpts)
      const d = new DateDetector({
        datepattern: def.datepattern, timezone: def.options['logtimezone'], now: () => SAMPLE_NOW, localZone: 'Europe/Zurich',
      })
      // journal lines carry no date of their own: the journal gives it.
      return { d, journal: all['logtype'] === 'journal' }
    }
    for (const item of parseSampleLog(readFileSync(join(LOGS, name), 'utf8'), name)) {
      if (item.kind === 'fileOptions') fileOpts = item.options
      else if (item.kind === 'filterOptions') detectors = item.options.map(make)
      else if (item.kind === 'line') {
        detectors ??= [make({})]
        for (const { d, journal } of detectors) {
          const m = d.match(Buffer.from(item.line))
          // fail2ban checks times of failures only; an empty date means "the previous line's time".
          if (journal || item.expected.match !== true || typeof item.expected.time !== 'string') continue
          if (m !== null && m.start === m.end) continue
          assert.ok(m, `${name}:${item.lineno} no date in ${item.line}`)
          assert.equal(m.time, failJsonTime(item.expected.time, 'Europe/Zurich'), `${name}:${item.lineno} ${item.line}`)
        }
      }
    }
  })
}
