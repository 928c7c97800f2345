import { readdir, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, sep } from 'node:path'

const MAGIC = /[*?[]/

/** Whether a logpath is a glob (Python's glob syntax: `*`, `?`, `[...]`) rather than one path. */
export function hasMagic(pattern: string): boolean {
  return MAGIC.test(pattern)
}

/** The deepest directory of a pattern without glob characters: where new matches appear. */
export function globBase(pattern: string): string {
  const parts = pattern.split(sep)
  const magicAt = parts.findIndex((part) => hasMagic(part))
  if (magicAt === -1) return dirname(pattern)
  const base = parts.slice(0, magicAt).join(sep)
  return base === '' ? (isAbsolute(pattern) ? sep : '.') : base
}

/**
 * The regular files a logpath names now, sorted: the path itself if it is a
 * file, or every file a glob matches. Like Python's glob (which fail2ban
 * uses), `*` and `?` stay within one path segment and do not match a leading
 * dot unless the pattern segment starts with one.
 */
export async function expandGlob(pattern: string): Promise<string[]> {
  if (!hasMagic(pattern)) return (await isFile(pattern)) ? [pattern] : []
  const absolute = isAbsolute(pattern)
  const segments = pattern.split(sep).filter((segment, i) => segment !== '' || (i === 0 && absolute))
  let candidates = [absolute ? sep : '']
  for (const segment of segments.slice(absolute ? 1 : 0)) {
    if (!hasMagic(segment)) {
      candidates = candidates.map((dir) => (dir === '' ? segment : join(dir, segment)))
      continue
    }
    const matcher = segmentMatcher(segment)
    const next: string[] = []
    for (const dir of candidates) {
      let names: string[]
      try {
        names = await readdir(dir === '' ? '.' : dir)
      } catch {
        continue
      }
      for (const name of names) if (matcher(name)) next.push(dir === '' ? name : join(dir, name))
    }
    candidates = next
  }
  const files: string[] = []
  for (const candidate of candidates) if (await isFile(candidate)) files.push(candidate)
  return files.sort()
}

function segmentMatcher(segment: string): (name: string) => boolean {
  const regex = new RegExp(`^${segmentSource(segment)}$`, 's')
  return (name) => regex.test(name)
}

/**
 * A logpath glob as a test on a whole path, for routing lines to the jails whose logpath names their
 * file, with the same rules as expandGlob.
 */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('/').map(segmentSource).join('/')}$`, 's')
}

/** One path segment of a glob: wildcards do not match a leading dot unless the segment starts with one. */
function segmentSource(segment: string): string {
  if (!hasMagic(segment)) return escape(segment)
  const body = fnmatchSource(segment)
  return segment.startsWith('.') ? body : `(?!\\.)${body}`
}

function fnmatchSource(segment: string): string {
  let source = ''
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!
    if (c === '*') source += '[^/]*'
    else if (c === '?') source += '[^/]'
    else if (c === '[') {
      let from = i + 1
      if (segment[from] === '!') from++
      if (segment[from] === ']') from++
      const close = segment.indexOf(']', from)
      if (close === -1) {
        source += '\\['
        continue
      }
      let body = segment.slice(i + 1, close)
      const negated = body.startsWith('!')
      if (negated) body = body.slice(1)
      // A class never matches the separator, as a path segment cannot hold one.
      source += negated ? `[^/${escapeClass(body)}]` : `(?!/)[${escapeClass(body)}]`
      i = close
    } else source += escape(c)
  }
  return source
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function escapeClass(body: string): string {
  return body.replace(/[\\^\]]/g, '\\$&')
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}
