import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openLog, tempDataDir } from './log-test-kit.js'

const ACKS_BEFORE_KILL = 3000

/** Runs the appending child until it has acknowledged enough records, SIGKILLs it, and returns the acknowledged (value, partition, offset). */
async function appendUntilKilled(dataDir: string): Promise<{ value: string; partition: number; offset: number }[]> {
  // The same extension as this file: .ts under tsx, .js after tsc.
  const script = fileURLToPath(new URL(`./fixtures/append-until-killed${extname(fileURLToPath(import.meta.url))}`, import.meta.url))
  const child = spawn(process.execPath, [...process.execArgv, script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    out += chunk
    if (out.split('\n').length > ACKS_BEFORE_KILL) child.kill('SIGKILL')
  })
  assert.equal(await exited, 'SIGKILL')
  // A line cut by the kill was not fully printed; only whole lines count.
  return out
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const [word, n, partition, offset] = line.split(' ')
      return { value: `${word} ${n}`, partition: Number(partition), offset: Number(offset) }
    })
}

test('a log SIGKILLed while appending with fsync always keeps every acknowledged record', async (t) => {
  const dataDir = await tempDataDir(t)
  const acked = await appendUntilKilled(dataDir)
  assert.ok(acked.length >= ACKS_BEFORE_KILL)

  const { log, problems } = await openLog(t, { dataDir })
  assert.deepEqual(problems.filter((p) => p.kind !== 'torn-tail'), [])
  const stored = await Promise.all([0, 1, 2].map((p) => log.read('failures', p, 0, 1_000_000)))
  for (const [p, records] of stored.entries()) {
    assert.deepEqual(records.map((r) => r.offset), records.map((_, i) => i), `partition ${p} has no gaps`)
  }
  for (const { value, partition, offset } of acked) {
    assert.equal(stored[partition]![offset]?.value.toString(), value, `acknowledged ${value} at ${partition}/${offset}`)
  }
  const placed = await log.append('failures', [{ key: Buffer.from('192.0.2.1'), value: Buffer.from('after the crash') }])
  const partition = placed[0]!.partition
  assert.equal(placed[0]!.offset, stored[partition]!.length)
})
