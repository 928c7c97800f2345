/**
 * fail2ban's logpath globs as a test on a stream's path. The file tail expands
 * globs on disk; the match stage only needs to know whether a path it is handed
 * falls under a jail's pattern. Python's glob rules (which fail2ban uses): `*`
 * and `?` stay within one path segment, `[...]` is a class (`[!...]` negated),
 * and a wildcard does not match a leading dot unless the segment starts with one.
 */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/').map(segmentSource)
  return new RegExp(`^${segments.join('/')}$`, 's')
}

function segmentSource(segment: string): string {
  if (!/[*?[]/.test(segment)) return escape(segment)
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
