import { concatMap, from, type MonoTypeOperatorFunction } from 'rxjs'
import type { FailureDetected } from '../../schemas/events/failure-detected.js'
import type { IgnoreCommand } from './ignore-command.js'

const NONE: readonly FailureDetected[] = []

/**
 * Drops the failures that their jail's ignorecommand ignores, keeping the
 * order of the rest. A failure of a jail without a command, a success line,
 * and a failure whose answer is cached pass at once, without waiting for a
 * promise; only a failure that must ask its command waits, and the failures
 * behind it wait with it so the order holds.
 */
export function ignoreGate(
  commands: ReadonlyMap<string, IgnoreCommand>,
  onIgnored: (f: FailureDetected) => void,
): MonoTypeOperatorFunction<FailureDetected> {
  const decide = (f: FailureDetected, ignored: boolean): readonly FailureDetected[] => {
    if (!ignored) return [f]
    onIgnored(f)
    return NONE
  }
  return concatMap((f) => {
    const command = f.success ? undefined : commands.get(f.jail)
    if (command === undefined) return [f]
    const cached = command.cached(f)
    if (cached !== undefined) return decide(f, cached)
    // isIgnored never rejects; should it ever, the failure counts rather than the stream erroring.
    return from(command.isIgnored(f).catch(() => false)).pipe(concatMap((ignored) => decide(f, ignored)))
  })
}
