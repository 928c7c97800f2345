import { Option } from 'commander'
import { MAX_STREAMS } from '../../streams/match-limits.js'
import { wholeNumberOf } from './whole-number-option.js'

/** `--max-streams <n>`: how many (host, stream) filter states the match stage keeps (streams/match-limits.ts). */
export function maxStreamsOption(): Option {
  return new Option('--max-streams <n>',
    `(host, stream) pairs whose filter state is kept; beyond it the least recently heard gives way (default ${MAX_STREAMS})`)
}

/** The flag's value as a count; undefined without the flag. */
export function maxStreamsOf(value: string | undefined): number | undefined {
  return wholeNumberOf('--max-streams', value, 1)
}
