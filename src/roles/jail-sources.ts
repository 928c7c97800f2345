import { FileTail, filePositionKey } from '../sources/file-tail.js'
import { JournaldSource } from '../sources/journald.js'
import type { LogPath } from '../sources/logpath.js'
import type { PositionStore } from '../sources/position-store.js'
import type { Source, SourceLog } from '../sources/source.js'
import type { RunJail } from './run-jails.js'

export interface JailSourcesOptions {
  readonly positions: PositionStore
  readonly log: SourceLog
  readonly now: () => number
}

/**
 * The sources the jails read: one file tail per log encoding, following the
 * union of the jails' logpaths (a file read by several jails is read once),
 * and one journal reader per journal-backed jail, with its journalmatch.
 */
export function jailSources(jails: readonly RunJail[], opts: JailSourcesOptions): Source[] {
  const byEncoding = new Map<string, Map<string, LogPath>>()
  for (const jail of jails) {
    const paths = byEncoding.get(jail.encoding) ?? new Map<string, LogPath>()
    // 'head' wins, so no jail misses lines it asked for.
    for (const path of jail.files) if (paths.get(path.pattern)?.start_at !== 'head') paths.set(path.pattern, path)
    byEncoding.set(jail.encoding, paths)
  }
  const sources: Source[] = []
  for (const [encoding, paths] of byEncoding) {
    if (paths.size > 0) sources.push(new FileTail({ paths: [...paths.values()], encoding, position_store: opts.positions, log: opts.log, now: opts.now }))
  }
  for (const jail of jails) {
    if (!jail.journal) continue
    sources.push(new JournaldSource({
      stream: jail.journal.stream,
      position_key: jail.journal.stream,
      position_store: opts.positions,
      ...(jail.journal.journalmatch ? { journalmatch: jail.journal.journalmatch } : {}),
      // fail2ban's systemd backend begins findtime before now when it has no saved cursor.
      since_ms: opts.now() - (jail.policy.find_time_secs ?? 600) * 1000,
      log: opts.log,
    }))
  }
  return sources
}

/** The key each source keeps its position under: journal readers by their stream, files by path. */
export function streamPositionKey(stream: string): string {
  return stream.startsWith('journald:') ? stream : filePositionKey(stream)
}
