import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApi } from '../../../src/api/build-api.js'
import { MemoryControlPort } from '../control/memory-control-port.js'

const BOUNCER = '/usr/bin/crowdsec-custom-bouncer'
const KEY = 'custom-bouncer-key'

/** Polls a condition the bouncer process brings about on its own schedule (its update_frequency), up to a deadline. */
async function eventually<T>(what: string, probe: () => T | undefined, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(100)
  }
}

describe('crowdsec-custom-bouncer pointed at banstream', { skip: existsSync(BOUNCER) ? false : `${BOUNCER} is not installed` }, () => {
  let dir = ''
  let app: FastifyInstance
  let bouncer: ChildProcess
  let output = ''
  const control = new MemoryControlPort([{ name: 'sshd', file_list: [], ban_time_secs: 14_400 }], () => new Date())

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'banstream-bouncer-'))
    app = buildApi({ control, tokens: undefined, bind: '127.0.0.1', bouncerKeys: [KEY] })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as { port: number }
    // The bouncer runs this for every decision: `add|del <value> <secs> <scenario> <json>`.
    writeFileSync(join(dir, 'record.sh'), `#!/bin/sh\necho "$@" >> '${join(dir, 'calls.log')}'\n`, { mode: 0o755 })
    writeFileSync(join(dir, 'bouncer.yaml'), [
      `bin_path: ${join(dir, 'record.sh')}`, 'feed_via_stdin: false', 'total_retries: 0',
      'scenarios_containing: []', 'scenarios_not_containing: []', 'origins: []',
      `piddir: ${dir}/`, 'update_frequency: 1s', 'cache_retention_duration: 1s', 'daemonize: false',
      'log_mode: stdout', 'log_level: info', `api_url: http://127.0.0.1:${port}/`, `api_key: ${KEY}`,
      'prometheus:', '  enabled: false', '  listen_addr: 127.0.0.1', '  listen_port: 60602', '',
    ].join('\n'))
    bouncer = spawn(BOUNCER, ['-c', join(dir, 'bouncer.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] })
    bouncer.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
    bouncer.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  })
  after(async () => {
    if (bouncer.exitCode === null) {
      const exited = new Promise((resolve) => bouncer.once('exit', resolve))
      bouncer.kill('SIGTERM')
      await exited
    }
    await app.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const calls = () => (existsSync(join(dir, 'calls.log')) ? readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n') : [])

  test('receives add for a ban and del for its unban', async () => {
    await control.ban('sshd', ['192.0.2.1'], {})
    const added = await eventually('add', () => calls().find((c) => c.startsWith('add 192.0.2.1 ')))
    const [, value, secs, scenario, ...json] = added.split(' ')
    assert.equal(value, '192.0.2.1')
    assert.ok(Number(secs) > 14_000 && Number(secs) <= 14_400, `remaining ${secs}`)
    assert.equal(scenario, 'banstream/sshd')
    assert.equal(JSON.parse(json.join(' ')).origin, 'banstream')

    await control.unban(undefined, ['192.0.2.1'])
    await eventually('del', () => calls().find((c) => c.startsWith('del 192.0.2.1 ')))
    assert.equal(calls().filter((c) => c.startsWith('add ')).length, 1, output)
  })
})
