import { spawn } from 'node:child_process'
import { commandResult, spawnOrFailure, type CommandResult } from './run-command.js'

// How long a timed-out command's processes get between SIGTERM and SIGKILL (fail2ban waits 0.1 s too).
const KILL_GRACE_MS = 100

/**
 * Runs a script with `sh -c` (after `prefix`, e.g. `ip netns exec fw`), as
 * fail2ban runs action commands. Never rejects. The script runs in its own
 * process group: past `timeout_ms` the whole group gets SIGTERM, then SIGKILL,
 * so a pipeline or a `sleep` the shell started dies with it, and the result
 * has code null and the reason in stderr.
 */
export function runShell(script: string, options: { timeout_ms: number; shell?: string; prefix?: readonly string[] }): Promise<CommandResult> {
  return new Promise((resolve) => {
    const [file, ...args] = [...(options.prefix ?? []), options.shell ?? '/bin/sh', '-c', script]
    const child = spawnOrFailure(file!, () => spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true }))
    if (typeof child === 'string') {
      resolve(commandResult(null, [], [], child))
      return
    }
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    let failure: string | undefined
    let settled = false
    const finish = (code: number | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(commandResult(code, stdout, stderr, failure))
    }
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal)
      } catch {
        // The group is gone already.
      }
    }
    const timer = setTimeout(() => {
      failure = `timed out after ${options.timeout_ms / 1000} s`
      signalGroup('SIGTERM')
      setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS).unref()
      // A process that left the group may still hold the output pipes: the exit of the shell is enough.
      child.once('exit', () => finish(null))
    }, options.timeout_ms)
    child.stdout.on('data', (b: Buffer) => stdout.push(b))
    child.stderr.on('data', (b: Buffer) => stderr.push(b))
    child.on('error', (err) => {
      failure ??= `${file}: ${err.message}`
      finish(null)
    })
    child.on('close', (code) => finish(code))
  })
}
