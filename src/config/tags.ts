import { ConfigError } from './errors.js'

// fail2ban's MAX_TAG_REPLACE_COUNT: more replacements of one tag in one value is a loop.
const MAX_TAG_REPLACE_COUNT = 10
const TAG_RE = /<([^ <>]+)>/g

export interface TagSubstitution {
  /** Prefer `<tag?conditional>` over `<tag>` (e.g. 'family=inet6'), as actions do at run time. */
  conditional?: string
  /** Option names neither substituted nor substituted into. */
  ignore?: Iterable<string>
  /** Looks up a tag that is not among the options (fail2ban's addrepl). */
  addrepl?: (tag: string) => string | undefined
}

function search(value: string, from: number): RegExpExecArray | null {
  TAG_RE.lastIndex = from
  return TAG_RE.exec(value)
}

/** fail2ban's helpers.substituteRecursiveTags: replaces `<tag>` in every value with the
 *  option of that name (or what addrepl finds), repeating while replacements bring in new
 *  tags. Tags with no value (`<HOST>`, `<F-USER>`, `<ip>`) are left as they are. */
export function substituteRecursiveTags(input: Map<string, string>, how: TagSubstitution = {}): Map<string, string> {
  const tags = new Map(input)
  const ignore = new Set(how.ignore ?? [])
  const done = new Set<string>()
  for (;;) {
    let again = false
    for (const tag of [...tags.keys()]) {
      if (ignore.has(tag) || done.has(tag)) continue
      const original = tags.get(tag) as string
      let value = original
      const refCounts = new Map<string, number>()
      let m = search(value, 0)
      while (m) {
        const rtag = m[1] as string
        if (ignore.has(rtag)) {
          m = search(value, m.index + m[0].length)
          continue
        }
        if (rtag === tag || (refCounts.get(rtag) ?? 1) > MAX_TAG_REPLACE_COUNT) {
          throw new ConfigError(`option '${tag}' refers to itself through <${rtag}> and cannot be resolved: ${value}`, undefined, tag)
        }
        let repl: string | undefined
        if (how.conditional) repl = tags.get(`${rtag}?${how.conditional}`)
        if (repl === undefined) repl = tags.get(rtag) ?? how.addrepl?.(rtag)
        if (repl === undefined) {
          m = search(value, m.index + m[0].length)
          continue
        }
        value = value.split(`<${rtag}>`).join(repl)
        refCounts.set(rtag, (refCounts.get(rtag) ?? 0) + 1)
        m = search(value, m.index)
      }
      if (value !== original) {
        if (search(value, 0)) again = true
        tags.set(tag, value)
      }
      if (!value.includes('<')) done.add(tag)
    }
    if (!again) return tags
  }
}
