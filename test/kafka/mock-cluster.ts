import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rename } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

/**
 * librdkafka's mock cluster (a Kafka protocol implementation) in a child
 * process, for tests. The launcher is compiled once per source version into a
 * cache dir; it needs gcc and Debian's librdkafka-dev.
 */
export interface MockCluster {
  /** The bootstrap list, e.g. ['127.0.0.1:40123']. */
  readonly brokers: string[]
  /** Creates a topic (the mock has no CreateTopics API). */
  createTopic(topic: string, partitions: number): Promise<void>
  /** Drops a broker's connections and refuses new ones until `up`; -1 means every broker. Broker ids start at 1. */
  down(broker: number): Promise<void>
  up(broker: number): Promise<void>
  /** Delays every response of the broker by `ms`. */
  setRtt(broker: number, ms: number): Promise<void>
  stop(): Promise<void>
}

const WAIT_MS = 10_000

/** Starts a mock cluster of `brokers` brokers with the given topics; stop() it (e.g. in t.after / after). */
export async function startMockCluster(brokers: number, topics: Record<string, number> = {}): Promise<MockCluster> {
  const binary = await compileLauncher()
  const child = spawn(binary, [String(brokers), ...Object.entries(topics).map(([t, p]) => `${t}:${p}`)], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const lines = createInterface({ input: child.stdout })
  const pending: ((line: string) => void)[] = []
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let dead: Error | undefined
  child.once('exit', (code, signal) => {
    dead = new Error(`mock cluster exited (${code ?? signal}): ${stderr.trim()}`)
    for (const waiter of pending.splice(0)) waiter(`error ${dead.message}`)
  })
  lines.on('line', (line) => pending.shift()?.(line))
  const nextLine = () =>
    dead !== undefined
      ? Promise.reject(dead)
      : withTimeout(new Promise<string>((resolve) => pending.push(resolve)), 'the mock cluster to answer', () => stderr)

  let bootstrap: string
  try {
    bootstrap = await nextLine()
    if (bootstrap.startsWith('error ')) throw new Error(bootstrap.slice(6))
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }

  // One command at a time: answers come back in order, one line each.
  let queue = Promise.resolve()
  const command = (line: string): Promise<void> => {
    const run = queue.then(async () => {
      child.stdin.write(`${line}\n`)
      const answer = await nextLine()
      if (answer !== 'ok') throw new Error(`mock cluster: ${line}: ${answer}`)
    })
    queue = run.catch(() => undefined)
    return run
  }

  return {
    brokers: bootstrap.split(','),
    createTopic: (topic, partitions) => command(`topic ${topic} ${partitions}`),
    down: (broker) => command(`down ${broker}`),
    up: (broker) => command(`up ${broker}`),
    setRtt: (broker, ms) => command(`rtt ${broker} ${ms}`),
    stop: () => stopChild(child, exited),
  }
}

async function stopChild(child: ChildProcessWithoutNullStreams, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.stdin.end()
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** Compiles mock-cluster.c into a cache dir keyed by the source's hash; concurrent test files may race, so the binary is renamed into place. */
async function compileLauncher(): Promise<string> {
  const source = launcherSource()
  const hash = createHash('sha256').update(await readFile(source)).digest('hex').slice(0, 16)
  const dir = join(process.env.BANSTREAM_TEST_CACHE ?? join(tmpdir(), 'banstream-test-cache'), 'mock-cluster')
  const binary = join(dir, `mock-cluster-${hash}`)
  if (existsSync(binary)) return binary
  await mkdir(dir, { recursive: true })
  const temp = `${binary}.${process.pid}.tmp`
  try {
    await promisify(execFile)('gcc', ['-O1', '-Wall', '-o', temp, source, '-lrdkafka'])
  } catch (err) {
    throw new Error(`cannot compile the Kafka mock cluster (needs gcc and librdkafka-dev): ${(err as { stderr?: string }).stderr ?? (err as Error).message}`)
  }
  await rename(temp, binary)
  return binary
}

/** The C source sits beside this file; compiled tests run from dist/, where only the .ts became .js. */
function launcherSource(): string {
  const beside = fileURLToPath(new URL('./mock-cluster.c', import.meta.url))
  if (existsSync(beside)) return beside
  const inSourceTree = fileURLToPath(new URL('../../../test/kafka/mock-cluster.c', import.meta.url))
  if (existsSync(inSourceTree)) return inSourceTree
  throw new Error(`mock-cluster.c not found beside ${beside}`)
}

function withTimeout<T>(promise: Promise<T>, what: string, detail: () => string): Promise<T> {
  let timer!: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}: ${detail()}`)), WAIT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
