import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { runSampleFile, sampleFilesFor, type SampleFileResult } from '../../src/conformance/run-conformance.js'
import { packageRoot } from '../../src/package-root.js'

const root = packageRoot()
const sharedLogs = join(root, '..', 'shared', 'conformance', 'logs')
const upstreamFilters = join(root, '..', 'shared', 'fail2ban', 'filter.d')
const builtinFilters = join(root, 'config', 'filter.d')
const ownSamples = join(root, 'test', 'samples')

/**
 * The services the built-in filters are written for. fail2ban's sshd-journal sample runs only under
 * the sshd filter (every block is conditioned on name=='sshd' and reached through sshd's addFILE);
 * banstream's own samples test the sshd-journal filter itself.
 */
const BUILTIN = [
  'sshd', 'postfix', 'dovecot', 'sendmail-auth', 'sendmail-reject', 'exim', 'exim-spam',
  'courier-auth', 'courier-smtp', 'cyrus-imap', 'uwimap-auth', 'sieve', 'solid-pop3d', 'perdition',
  'squirrelmail', 'roundcube-auth', 'horde', 'sogo-auth', 'kerio', 'assp', 'domino-smtp', 'qmail',
  'asterisk', 'freeswitch', 'recidive', 'pam-generic',
]

function describeFailures(r: SampleFileResult): string {
  return [r.error ?? '', ...r.failures.map((f) => `${f.file}:${f.lineno} [${f.filter}] ${f.message}\n  ${f.line}`)].join('\n')
}

for (const name of BUILTIN) {
  test(`built-in filter ${name} passes fail2ban's sample log`, () => {
    const r = runSampleFile(sharedLogs, name, { filterDir: builtinFilters })
    assert.ok(r.cases > 0, `${name}: no case ran`)
    assert.equal(r.error, undefined, describeFailures(r))
    assert.deepEqual(r.failures, [], describeFailures(r))
  })
}

for (const name of existsSync(ownSamples) ? sampleFilesFor(ownSamples, builtinFilters) : []) {
  test(`built-in filter ${name} passes banstream's own samples (other lines of the same formats, hostile input)`, () => {
    const r = runSampleFile(ownSamples, name, { filterDir: builtinFilters })
    assert.ok(r.cases > 0, `${name}: no case ran`)
    assert.equal(r.error, undefined, describeFailures(r))
    assert.deepEqual(r.failures, [], describeFailures(r))
  })
}

test("unmodified fail2ban filters: reports how many pass all their samples, and why the others do not", () => {
  const results = sampleFilesFor(sharedLogs, upstreamFilters).map((name) => runSampleFile(sharedLogs, name, { filterDir: upstreamFilters }))
  const passing = results.filter((r) => r.error === undefined && r.failures.length === 0)
  const lines = results.filter((r) => !passing.includes(r))
    .map((r) => `  ${r.name}: ${r.error ?? `${r.failures.length} failing case(s), first: ${r.failures[0]!.message}`}`)
  console.log(`unmodified fail2ban filters passing all samples: ${passing.length}/${results.length}\n${lines.join('\n')}`)
  // Every filter that does not pass must say why: a refused construct names itself, a failing case its line.
  for (const r of results) if (!passing.includes(r)) assert.ok(r.error || r.failures.length > 0)
})
