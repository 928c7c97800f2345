import { Type, type Static } from '@sinclair/typebox'
import { JAIL_NAME_PATTERN, JailName } from './control.js'
import { TimeText } from './history.js'

/**
 * Requests and responses of the replay API (`/v1/replay`): a candidate
 * configuration run over past logs, as `banstream replay` runs it, in a job.
 */

/** The largest request body POST /v1/replay accepts, in bytes. */
export const REPLAY_BODY_LIMIT = 1024 * 1024
const CONFIG_TEXT_LIMIT = 256 * 1024
const PATH_LIMIT = 4096

const ConfigText = Type.String({ maxLength: CONFIG_TEXT_LIMIT })

export const ReplayConfig = Type.Object({
  jail_local: Type.Optional({
    ...ConfigText,
    description: "A candidate jail.local, read in place of the configuration's own (after jail.conf and jail.d/*.conf, before jail.d/*.local).",
  }),
  filters: Type.Optional(Type.Record(Type.String({ pattern: JAIL_NAME_PATTERN, maxLength: 128 }), ConfigText, {
    maxProperties: 32,
    additionalProperties: false,
    description: "Candidate filters by filter name, each read as filter.d/<name>.local: its settings (e.g. `failregex`) replace those of filter.d/<name>.conf, as fail2ban's .local files do; the configuration's own .local of that filter is set aside.",
  })),
}, { additionalProperties: false, description: 'A candidate configuration: changes to the configuration banstream runs with. Without it, the current configuration is replayed.' })
export type ReplayConfig = Static<typeof ReplayConfig>

const FilesSource = Type.Object({
  files: Type.Array(Type.String({ minLength: 1, maxLength: PATH_LIMIT }), {
    minItems: 1, maxItems: 1000,
    description: 'Absolute paths or globs (`*`, `?`, `[...]`) of plain or .gz log files, each inside a directory the API allows for replay (`replay.dirs`).',
  }),
  as: Type.Optional(Type.String({ minLength: 1, maxLength: PATH_LIMIT, description: "Route the files' lines as if read from this path (a jail's logpath), e.g. an archived copy of /var/log/auth.log." })),
}, { additionalProperties: false })

const LogSource = Type.Object({
  log: Type.Object({
    from: { ...TimeText, description: 'Lines appended from this time on are read.' },
    to: { ...TimeText, description: 'Lines appended up to this time (and a few minutes after, for late forwarders) are read.' },
  }, { additionalProperties: false, description: 'The `lines` topic of the log this banstream runs on (Kafka, or the embedded log of `banstream run`), each line routed by the stream its forwarder read it from.' }),
}, { additionalProperties: false })

const HistorySource = Type.Object({
  history: Type.Object({
    from: { ...TimeText, description: 'Lines read from this time on are replayed.' },
    to: { ...TimeText, description: 'Lines read up to this time (and a few minutes after) are replayed.' },
  }, { additionalProperties: false, description: 'The raw lines the event history kept (`--history-lines`), each routed by the stream it was read from.' }),
}, { additionalProperties: false })

export const ReplayRequest = Type.Object({
  config: Type.Optional(ReplayConfig),
  jails: Type.Optional(Type.Array(JailName, { minItems: 1, maxItems: 100, uniqueItems: true, description: 'Replay only these jails (default every enabled jail that can run).' })),
  source: Type.Union([FilesSource, LogSource, HistorySource], { description: 'Where the past lines come from: files, or the log or the kept lines between two times.' }),
  from: Type.Optional({ ...TimeText, description: 'Count failures from this time on (default: the log range, else all).' }),
  to: Type.Optional({ ...TimeText, description: 'Count failures before this time; bans are lifted up to it (default: the log range, else all).' }),
  diff: Type.Optional(Type.Boolean({ description: 'Compare the bans with the decisions the event history holds for the period (needs a history store).' })),
}, { $id: 'banstream.api.ReplayRequest.v1', additionalProperties: false })
export type ReplayRequest = Static<typeof ReplayRequest>

export const ReplayAccepted = Type.Object({
  id: Type.String({ description: 'The job, for GET /v1/replay/{id}.' }),
}, { $id: 'banstream.api.ReplayAccepted.v1', additionalProperties: false })
export type ReplayAccepted = Static<typeof ReplayAccepted>

export const ReplayParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false })
export type ReplayParams = Static<typeof ReplayParams>

const Count = Type.Integer({ minimum: 0 })
const Time = Type.String({ format: 'date-time' })
const BanSeconds = Type.Integer({ minimum: -1, description: '-1 = permanent.' })
const Lines = Type.Array(Type.String(), { description: 'The log lines that caused the ban (at most maxmatches).' })

const ReplayBan = Type.Object({
  ip: Type.String(),
  time: { ...Time, description: 'When the ban starts (event time).' },
  ban_time_secs: BanSeconds,
  failures: Count,
  reason: Type.Union([Type.Literal('threshold'), Type.Literal('manual'), Type.Literal('prolonged')]),
  expires_at: Type.Union([Time, Type.Null()]),
  event_id: Type.String(),
  matches: Lines,
}, { additionalProperties: false })

/** The result of a replay: the JSON of `banstream replay --json`. */
export const ReplayResult = Type.Object({
  first_failure_at: Type.Union([Time, Type.Null()], { description: 'Event time of the first failure counted; null when there was none.' }),
  last_failure_at: Type.Union([Time, Type.Null()]),
  lines: Type.Integer({ minimum: 0, description: 'Lines read.' }),
  unrouted_lines: Type.Integer({ minimum: 0, description: 'Lines of streams no jail reads.' }),
  jails: Type.Array(Type.Object({
    jail: Type.String(),
    lines: Type.Integer({ minimum: 0, description: 'Lines routed to the jail.' }),
    failures: Type.Integer({ minimum: 0, description: 'Failures in range.' }),
    failures_by_regex: Type.Array(Type.Object({ regex_index: Count, count: Count }, { additionalProperties: false })),
    bans: Type.Array(ReplayBan, { description: 'The bans the jail would have issued.' }),
    unbans: Type.Array(Type.Object({ ip: Type.String(), time: Time, ban_event_id: Type.String() }, { additionalProperties: false })),
  }, { additionalProperties: false })),
}, { $id: 'banstream.api.ReplayResult.v1', additionalProperties: false })
export type ReplayResult = Static<typeof ReplayResult>

/** Per jail, the replay against the decisions of the event history. */
export const ReplayDiff = Type.Array(Type.Object({
  jail: Type.String(),
  gained: Type.Array(ReplayBan, { description: 'Bans the replay issues that were not decided.' }),
  lost: Type.Array(Type.Object({
    ip: Type.String(), time: Time, ban_time_secs: BanSeconds, failures: Count, event_id: Type.String(), matches: Lines,
  }, { additionalProperties: false }), { description: 'Bans that were decided and the replay does not issue.' }),
  changed: Type.Array(Type.Object({
    ip: Type.String(), time: Time, actual_time: Time, ban_time_secs: BanSeconds, actual_ban_time_secs: BanSeconds, matches: Lines,
  }, { additionalProperties: false }), { description: 'Bans both issued, of different lengths.' }),
  same: Type.Integer({ minimum: 0, description: 'Bans both issued, of the same length.' }),
}, { additionalProperties: false }), { $id: 'banstream.api.ReplayDiff.v1' })
export type ReplayDiff = Static<typeof ReplayDiff>

export const ReplayState = Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')])
export type ReplayState = Static<typeof ReplayState>

export const ReplayJob = Type.Object({
  id: Type.String(),
  state: ReplayState,
  created_at: Time,
  started_at: Type.Union([Time, Type.Null()]),
  finished_at: Type.Union([Time, Type.Null()]),
  progress: Type.Object({
    lines: Type.Integer({ minimum: 0, description: 'Lines read so far.' }),
    lines_per_s: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: 'Lines read per second of running; null before the job runs.' }),
    eta_s: Type.Union([Type.Number({ minimum: 0 }), Type.Null()], { description: 'Seconds left, estimated from the share of the source read; null when unknown.' }),
  }, { additionalProperties: false }),
  skipped: Type.Array(Type.Object({ jail: Type.String(), reason: Type.String() }, { additionalProperties: false }),
    { description: 'Enabled jails that cannot run with the replayed configuration, each with the reason.' }),
  error: Type.Optional(Type.String({ description: 'Why a failed job failed.' })),
  result: Type.Optional(ReplayResult),
  diff: Type.Optional(ReplayDiff),
}, { $id: 'banstream.api.ReplayJob.v1', additionalProperties: false })
export type ReplayJob = Static<typeof ReplayJob>
