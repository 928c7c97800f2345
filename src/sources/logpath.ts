/** One entry of fail2ban's `logpath`: a path or glob, and where to begin a file already there at start. */
export interface LogPath {
  pattern: string
  /** `head` reads a file from its beginning, `tail` from its end (fail2ban's default is head). */
  start_at: 'head' | 'tail'
}

/**
 * Parses fail2ban's `logpath` value: one path or glob per line, optionally
 * followed by ` tail` or ` head`. Unlike fail2ban, which splits at the last
 * space whatever follows it, any other last word stays part of the path, so a
 * path with a space in it keeps working.
 */
export function parseLogPaths(value: string): LogPath[] {
  const paths: LogPath[] = []
  for (const raw of value.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    const option = /^(.*\S)\s+(tail|head)$/i.exec(line)
    if (option) paths.push({ pattern: option[1]!, start_at: option[2]!.toLowerCase() as 'head' | 'tail' })
    else paths.push({ pattern: line, start_at: 'head' })
  }
  return paths
}
