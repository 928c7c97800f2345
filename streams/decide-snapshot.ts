import type { Window } from './decide-window.js'
import { emptyDecideState, jailState, putWindow, type ActiveBan, type BanRecord, type DecideState } from './decide-state.js'

/**
 * The decide state as plain JSON, so a restart resumes from it instead of
 * folding every failure again. Infinite times (permanent bans, the watermark
 * before any event) are written as null.
 */
export interface DecideSnapshot {
  readonly version: 1
  readonly watermark: number | null
  readonly jails: Record<string, {
    readonly windows: [string, Window][]
    readonly bans: [string, Omit<ActiveBan, 'ends'> & { ends: number | null }][]
    readonly history: [string, BanRecord][]
  }>
}

/** Characters of JSON a piece of snapshotJson() gathers before it is handed on. */
const JSON_PIECE_CHARS = 1 << 14

/**
 * The state's DecideSnapshot as JSON text, in pieces of some kilobytes: a million windows make
 * some 200 MB of JSON, which as one string doubled the process's memory while it was saved, and as
 * pieces of a megabyte still went to V8's large-object space, kept until the next full collection.
 * The state must not change until the last piece is taken.
 */
export function* snapshotJson(state: DecideState): Generator<string> {
  yield `{"version":1,"watermark":${JSON.stringify(Number.isFinite(state.watermark) ? state.watermark : null)},"jails":{`
  let separator = ''
  for (const [name, js] of state.jails) {
    yield `${separator}${JSON.stringify(name)}:{"windows":`
    yield* jsonArray(js.windows, (entry) => entry)
    yield ',"bans":'
    yield* jsonArray(js.bans, savedBan)
    yield ',"history":'
    yield* jsonArray(js.history, (entry) => entry)
    yield '}'
    separator = ','
  }
  yield '}}'
}

function* jsonArray<T>(entries: Iterable<T>, saved: (entry: T) => unknown): Generator<string> {
  let piece = '['
  let separator = ''
  for (const entry of entries) {
    piece += separator + JSON.stringify(saved(entry))
    separator = ','
    if (piece.length >= JSON_PIECE_CHARS) {
      yield piece
      piece = ''
    }
  }
  yield `${piece}]`
}

function savedBan([ip, ban]: [string, ActiveBan]): [string, Omit<ActiveBan, 'ends'> & { ends: number | null }] {
  return [ip, { ...ban, ends: Number.isFinite(ban.ends) ? ban.ends : null }]
}

/**
 * A saved window with every field a live one has: JSON drops the fields that were undefined
 * (`hosts`, `user`), and windows of one shape share one object layout (openWindow).
 */
function restoredWindow(saved: Window): Window {
  const { first, last, retry, attempts, matches, hosts, user, hits } = saved
  return { first, last, retry, attempts, matches, hosts, user, ...(hits === undefined ? {} : { hits }) }
}

/** The state a snapshot was taken of; eviction lines are rebuilt in time order so they evict as before. */
export function restoreSnapshot(snapshot: DecideSnapshot): DecideState {
  if (snapshot.version !== 1) throw new Error(`decide snapshot version ${String(snapshot.version)} is not understood`)
  const state = emptyDecideState()
  state.watermark = snapshot.watermark ?? -Infinity
  for (const [name, saved] of Object.entries(snapshot.jails)) {
    const js = jailState(state, name)
    for (const [key, window] of [...saved.windows].sort((a, b) => a[1].last - b[1].last)) putWindow(js, key, restoredWindow(window))
    for (const [ip, ban] of saved.bans) {
      const ends = ban.ends ?? Infinity
      js.bans.set(ip, { ...ban, ends })
      if (ends !== Infinity) state.banEnds.push({ ends, jail: name, ip, event_id: ban.event_id })
    }
    for (const [ip, record] of [...saved.history].sort((a, b) => a[1].last_ban_at - b[1].last_ban_at)) {
      js.history.set(ip, record)
      js.historyLine.push(ip, record.last_ban_at)
    }
  }
  return state
}
