import { spawn } from 'node:child_process'

/** How a command ended: its exit code (null when it could not start or was killed) and its output. */
export interface CommandResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs argv (no shell), writing `input` to its stdin. Never rejects: a
 * command that cannot start or outlives `timeout_ms` (then killed) ends with
 * code null and the reason in stderr.
 */
export function runCommand(argv: readonly string[], input = '', timeout_ms = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [file, ...args] = argv
    if (!file) {
      resolve({ code: null, stdout: '', stderr: 'empty command' })
      return
    }
    const child = spawnOrFailure(file, () => spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] }))
    if (typeof child === 'string') {
      resolve(commandResult(null, [], [], child))
      return
    }
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let failure: string | undefined
    const timer = setTimeout(() => {
      failure = `${file} timed out after ${timeout_ms} ms`
      child.kill('SIGKILL')
    }, timeout_ms)
    child.stdout.on('data', (b: Buffer) => stdout.push(b))
    child.stderr.on('data', (b: Buffer) => stderr.push(b))
    child.on('error', (err) => { failure ??= `${file}: ${err.message}` })
    // A command that exits without reading its stdin closes the pipe under us; its exit says why.
    child.stdin.on('error', () => {})
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve(commandResult(code, stdout, stderr, failure))
    })
    child.stdin.end(input)
  })
}

/**
 * The started child, or why it could not start. spawn() throws for some of
 * those reasons instead of emitting 'error': an argument past the kernel's
 * 128 KiB (E2BIG, a ban's long log lines in a script), too many processes.
 */
export function spawnOrFailure<T>(file: string, start: () => T): T | string {
  try {
    return start()
  } catch (err) {
    return `${file}: ${(err as Error).message}`
  }
}

/** How a command ended, from its output: code null with `failure` added to stderr when it did not end by itself. */
export function commandResult(code: number | null, stdout: readonly Buffer[], stderr: readonly Buffer[], failure: string | undefined): CommandResult {
  const err = Buffer.concat(stderr).toString('utf8')
  return {
    code: failure ? null : code,
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: failure ? [err, failure].filter((s) => s !== '').join('\n') : err,
  }
}
