import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { realpath, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { isAbsolute, join, resolve, sep } from 'node:path'
import type { ReplayJob, ReplayRequest } from '../../../schemas/api/replay.js'
import { ConfigStore } from '../../config/config-store.js'
import { ConfigError } from '../../config/errors.js'
import { parseIni } from '../../config/ini-parser.js'
import { loadJails as loadJailConfigs } from '../../config/jail-config.js'
import { resolveJailPolicies } from '../../ignore/resolve-policies.js'
import type { Log } from '../../log/log.js'
import { diffDecisions, diffPeriod, findTimeTolerance } from '../../roles/replay-diff.js'
import { historyChunks } from '../../roles/replay-history.js'
import { logChunks } from '../../roles/replay-log.js'
import { replay, replayLines, type ReplayJailsOptions } from '../../roles/replay.js'
import { loadRunJails, type RunJail } from '../../roles/run-jails.js'
import { expandGlob, globBase, hasMagic } from '../../sources/glob.js'
import type { Store } from '../../store/store.js'
import { ControlError } from '../control/control-error.js'
import { OPEN_END_MS, parseTime } from '../history/time-range.js'
import { decidedBans } from './replay-decisions.js'
import type { ReplayWork } from './replay-jobs.js'

/** What POST /v1/replay may use. */
export interface ReplaySettings {
  /** The configuration the jails run with; a candidate is laid over a copy of it. */
  readonly configDir: string
  /** Where filters RE2 cannot run are replaced from (banstream's built-in filter.d), as `banstream run --fail2ban` does. */
  readonly fallbackFilterDir?: string
  /** Directories a replay may read log files from (and from below them); none: no file source. */
  readonly dirs: readonly string[]
  /** The log whose `lines` topic a replay may read; without one, no log source. */
  readonly log?: Log
  /** Jobs waiting behind the running one before POST answers 429 (default 4). */
  readonly maxQueued?: number
  /** Finished jobs kept for GET (default 32). */
  readonly keepFinished?: number
}

/** A request turned into work, checked before it is queued. */
export interface PreparedReplay {
  readonly work: ReplayWork
  readonly skipped: ReplayJob['skipped']
  readonly cleanup: () => Promise<void>
}

function invalid(field: string, message: string): ControlError {
  return new ControlError(400, 'BANSTREAM_ERR_INVALID_REQUEST', `${field}: ${message}`, field)
}

/**
 * Checks a replay request against what this API allows (paths inside the
 * replay directories, a log, a history for the diff), reads the jails of
 * the candidate configuration, and returns the job's work. Every refusal is
 * a 400 naming the field.
 */
export async function prepareReplay(body: ReplayRequest, settings: ReplaySettings, store: Store | undefined): Promise<PreparedReplay> {
  const from = body.from === undefined ? undefined : parseTime(body.from, 'body/from') / 1000
  const to = body.to === undefined ? undefined : parseTime(body.to, 'body/to') / 1000
  if (from !== undefined && to !== undefined && from >= to) throw invalid('body/from', 'must be before to')
  if (body.diff && !store) throw invalid('body/diff', 'this banstream keeps no event history to compare with')
  const source = await sourceOf(body.source, settings, store)
  const range = { from: from ?? source.from, to: to ?? source.to }
  // Yearless dates are read relative to the end of the period, as the CLI reads them.
  const now = range.to ?? source.newest
  const tree = body.config ? candidateTree(settings.configDir, body.config) : undefined
  const cleanup = async () => { if (tree) rmSync(tree, { recursive: true, force: true }) }
  try {
    const jails = loadJails(tree ?? settings.configDir, now, body.jails, settings.fallbackFilterDir, tree !== undefined)
    // ignoreself as the CLI replays: this host's addresses are not those of the hosts the logs came from.
    const policies = await resolveJailPolicies(jails.selected.map((j) => j.policy), { self: async () => [], warn: () => undefined })
    const work: ReplayWork = async (onProgress, signal) => {
      const options: ReplayJailsOptions = {
        jails: jails.selected.map((j) => j.match), policies, onProgress, signal,
        ...(range.from !== undefined ? { from: range.from } : {}),
        ...(range.to !== undefined ? { to: range.to } : {}),
      }
      const result = source.log ? await replayLines(options, logChunks(source.log, { from: source.from!, to: source.to! }))
        : source.history ? await replayLines(options, historyChunks(source.history, { from: source.from!, to: source.to! }))
        : await replay({ ...options, inputs: source.files.map((path) => (source.as !== undefined ? { path, as: source.as } : { path })) })
      if (!body.diff) return { result }
      const period = diffPeriod(result, range)
      // An unbounded end becomes a time the store can bind: no decision predates 1970 or follows its last representable time.
      const decisions = await decidedBans(store!, result.jails.map((j) => j.jail), Math.max(0, period.from * 1000), Math.min(OPEN_END_MS, period.to * 1000))
      return { result, diff: diffDecisions(result, decisions, { ...period, toleranceSecs: findTimeTolerance(policies) }) }
    }
    return { work, skipped: jails.skipped, cleanup }
  } catch (err) {
    await cleanup()
    throw err
  }
}

interface Source {
  readonly files: string[]
  readonly as?: string
  readonly log?: Log
  /** The store whose kept lines are replayed. */
  readonly history?: Store
  /** The log's or the history's range, epoch seconds. */
  readonly from?: number
  readonly to?: number
  /** The newest file's modification time, epoch seconds. */
  readonly newest: number
}

async function sourceOf(source: ReplayRequest['source'], settings: ReplaySettings, store: Store | undefined): Promise<Source> {
  if ('log' in source) {
    if (!settings.log) throw invalid('body/source/log', 'this banstream replays no log: give files')
    const { from, to } = rangeOf(source.log, 'body/source/log')
    return { files: [], log: settings.log, from, to, newest: to }
  }
  if ('history' in source) {
    if (!store) throw invalid('body/source/history', 'this banstream keeps no event history')
    const { from, to } = rangeOf(source.history, 'body/source/history')
    return { files: [], history: store, from, to, newest: to }
  }
  if (settings.dirs.length === 0) throw invalid('body/source/files', 'this banstream allows no replay directory: set one to replay files')
  const allowed = await allowedDirs(settings.dirs)
  const files: string[] = []
  let newest = 0
  for (const [i, pattern] of source.files.entries()) {
    const field = `body/source/files/${i}`
    if (!isAbsolute(pattern)) throw invalid(field, 'must be an absolute path')
    const normal = resolve(pattern)
    // The pattern's fixed part first: a glob outside the directories is never expanded.
    if (!inside(hasMagic(normal) ? globBase(normal) : normal, allowed)) throw outside(field)
    const matches = await expandGlob(normal)
    if (matches.length === 0) throw invalid(field, 'no file matches')
    for (const match of matches) {
      // A symbolic link inside the directories may point out of them: the real path decides.
      if (!inside(await realpath(match), allowed)) throw outside(field)
      newest = Math.max(newest, (await stat(match)).mtimeMs / 1000)
      files.push(match)
    }
  }
  if (source.as !== undefined && !isAbsolute(source.as)) throw invalid('body/source/as', 'must be an absolute path')
  return { files, ...(source.as !== undefined ? { as: resolve(source.as) } : {}), newest }
}

function rangeOf(range: { from: string; to: string }, field: string): { from: number; to: number } {
  const from = parseTime(range.from, `${field}/from`) / 1000
  const to = parseTime(range.to, `${field}/to`) / 1000
  if (from >= to) throw invalid(`${field}/from`, 'must be before to')
  return { from, to }
}

function outside(field: string): ControlError {
  return invalid(field, 'not inside a directory this banstream allows replaying from')
}

/** Each directory as configured and as its real path (both spellings may appear in a request). */
async function allowedDirs(dirs: readonly string[]): Promise<string[]> {
  const real = await Promise.all(dirs.map((dir) => realpath(dir).catch(() => undefined)))
  return [...dirs.map((dir) => resolve(dir)), ...real.filter((dir): dir is string => dir !== undefined)]
}

function inside(path: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : `${dir}${sep}`))
}

/** A copy of the configuration with the candidate's jail.local and filter .local files in place. */
function candidateTree(configDir: string, config: NonNullable<ReplayRequest['config']>): string {
  const filters = Object.entries(config.filters ?? {})
  // The schema admits only such names; checked again here, where a name becomes a path.
  for (const [name] of filters) if (!/^[\w.-]+$/.test(name) || name === '.' || name === '..') throw invalid(`body/config/filters/${name}`, 'not a filter name')
  if (config.jail_local !== undefined) checkIncludes(config.jail_local, 'body/config/jail_local')
  for (const [name, text] of filters) checkIncludes(text, `body/config/filters/${name}`)
  const tree = mkdtempSync(join(tmpdir(), 'banstream-replay-config-'))
  try {
    cpSync(configDir, tree, { recursive: true })
    if (config.jail_local !== undefined) writeFileSync(join(tree, 'jail.local'), config.jail_local)
    if (filters.length > 0) mkdirSync(join(tree, 'filter.d'), { recursive: true })
    for (const [name, text] of filters) writeFileSync(join(tree, 'filter.d', `${name}.local`), text)
    return tree
  } catch (err) {
    rmSync(tree, { recursive: true, force: true })
    throw err
  }
}

/**
 * A candidate may include only files of the configuration: banstream reads
 * its configuration as root, and an [INCLUDES] of /root/.aws/credentials
 * would hand that file's values to the client through interpolation.
 */
function checkIncludes(text: string, field: string): void {
  const store = new ConfigStore()
  try {
    store.merge(parseIni(text, field))
  } catch (err) {
    if (err instanceof ConfigError) throw invalid(field, err.message)
    throw err
  }
  if (!store.hasSection('INCLUDES')) return
  for (const which of ['before', 'after']) {
    if (!store.options('INCLUDES').includes(which)) continue
    for (const line of (store.get('INCLUDES', which) ?? '').split('\n')) {
      if (isAbsolute(line) || line.split(/[\\/]/).includes('..')) throw invalid(field, `[INCLUDES] ${which} may name only files inside the configuration, not ${line}`)
    }
  }
}

/**
 * A candidate configuration may enable this many jails: each compiles in the request, in the API's
 * process, for tens of milliseconds and megabytes (4000 jails stalled it for minutes).
 */
export const MAX_CANDIDATE_JAILS = 32

function loadJails(configDir: string, now: number, names: readonly string[] | undefined, fallbackFilterDir: string | undefined, candidate: boolean):
  { selected: RunJail[]; skipped: ReplayJob['skipped'] } {
  let loaded: ReturnType<typeof loadRunJails>
  try {
    if (candidate) {
      const enabled = loadJailConfigs(configDir, { filtersByName: true }).filter((j) => j.enabled && (names === undefined || names.includes(j.name))).length
      if (enabled > MAX_CANDIDATE_JAILS) throw invalid('body/config', `enables ${enabled} jails; a candidate may enable at most ${MAX_CANDIDATE_JAILS} (name the ones to replay in jails)`)
    }
    loaded = loadRunJails(configDir, () => now, { ...(fallbackFilterDir !== undefined ? { fallbackFilterDir } : {}), filtersByName: candidate })
  } catch (err) {
    if (err instanceof ConfigError) throw invalid('body/config', err.message)
    throw err
  }
  const skipped = [...loaded.skipped]
  if (names === undefined) return { selected: loaded.jails, skipped }
  for (const [i, name] of names.entries()) {
    if (loaded.jails.some((j) => j.config.name === name)) continue
    const reason = skipped.find((s) => s.jail === name)?.reason
    throw invalid(`body/jails/${i}`, reason ?? `no enabled jail '${name}'`)
  }
  return { selected: loaded.jails.filter((j) => names.includes(j.config.name)), skipped: skipped.filter((s) => names.includes(s.jail)) }
}
