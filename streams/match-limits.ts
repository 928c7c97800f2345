/**
 * A syslog message names its own host, so whoever can send one can make streams without end: without
 * a bound, an hour of messages with made-up host names would fill the memory before the idle sweep
 * frees any. A stream's filter state is made as lines reach its filters: ~20 KiB for one filter, up to
 * ~130 KiB for all 26 built-in ones. 10 000 streams is a fleet of thousands of hosts, and at most
 * ~1.3 GiB. A stream pushed out only loses what the filters remember of it. `--max-streams` of
 * `banstream run` and `detect` sets another bound.
 */
export const MAX_STREAMS = 10_000
