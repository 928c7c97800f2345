import { UsageError } from './usage-error.js'

/** A flag's value as a whole number of at least `least`; undefined without the flag. */
export function wholeNumberOf(flag: string, value: string | undefined, least: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < least) throw new UsageError(`${flag} ${value}: a whole number, ${least} or more`)
  return n
}
