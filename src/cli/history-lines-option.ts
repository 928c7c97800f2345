import { Option } from 'commander'
import { DEFAULT_LINES_DAYS } from '../../schemas/clickhouse/tables.js'
import { UsageError } from './usage-error.js'

/** `--history-lines [days]`: also keep the raw log lines in the history (off by default: they are the bulk of the data). */
export function historyLinesOption(): Option {
  return new Option('--history-lines [days]',
    `also keep the raw log lines in the history, for <days> days (default ${DEFAULT_LINES_DAYS}), so replay can read them from ClickHouse`)
}

/** How many days lines are kept, from the flag's value; undefined when lines are not kept. */
export function historyLinesDaysOf(value: string | boolean | undefined): number | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return DEFAULT_LINES_DAYS
  const days = Number(value)
  if (!Number.isInteger(days) || days < 1) throw new UsageError(`--history-lines ${value}: a whole number of days, 1 or more`)
  return days
}
