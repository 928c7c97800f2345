import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { packageRoot } from '../../src/package-root.js'

// The command users run is package.json's bin: one bundle (and a chunk per command), built from the
// modules the other tests run. These tests run it as installed; from the sources (tsx) there is none.
const root = packageRoot()
const bin = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { banstream: string } }).bin.banstream)
const modules = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))
const fromSources = import.meta.url.endsWith('.ts')

function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env: { ...process.env, TZ: 'Europe/Zurich' }, maxBuffer: 1 << 24 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }))
  })
}

test('the installed banstream command finds the same failures as the modules it is built from', { skip: fromSources }, async () => {
  const args = ['regex', '--json', '--now', '2005-08-14T12:00:00+02:00', join(root, 'test', 'samples', 'sshd'), 'sshd']
  const [shipped, built] = await Promise.all([run(bin, args), run(modules, args)])
  assert.equal(shipped.code, 0, shipped.stderr)
  assert.ok(shipped.stdout.split('\n').length > 10, 'the sample log yields failures')
  assert.equal(shipped.stdout, built.stdout)
})

test('the installed banstream command loads every command it lists', { skip: fromSources }, async () => {
  const help = await run(bin, ['--help'])
  assert.equal(help.code, 0, help.stderr)
  for (const command of ['regex', 'conformance', 'run', 'topics', 'forward', 'detect', 'actuate', 'store', 'api', 'client', 'replay']) {
    assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'))
  }
  const client = await run(bin, ['client', '--help'])
  assert.equal(client.code, 0, client.stderr)
  assert.match(client.stdout, /Usage: banstream client/)
})
