import { ConfigError } from './errors.js'

/** A filter or action named with its arguments: `sshd[mode=aggressive]`. */
export interface Reference { name: string; args: Record<string, string> }

// fail2ban's helpers.OPTION_CRE / OPTION_EXTRACT_CRE / OPTION_SPLIT_CRE.
const REFERENCE_RE = /^([^[]+)(?:\[([\s\S]*)\])?\s*$/
const ARGUMENT_RE = /([\p{L}\p{N}_\-.]+)=(?:"([^"]*)"|'([^']*)'|([^,\]]*))(?:,|\]\s*\[|$)/gu
const LIST_ITEM_RE =
  /(?:[^[\n]+(?:\s*\[\s*(?:[\p{L}\p{N}_\-.]+=(?:"[^"]*"|'[^']*'|[^,\]]*)\s*(?:,|\]\s*\[)?\s*)*\])?\s*|[^\n]+)(?=\n\s*|$)/gu

/** Parses `name[a=1, b="x,y", c='z']` (also `name[a=1][b=2]`), as fail2ban's extractOptions. */
export function parseReference(ref: string): Reference {
  const m = REFERENCE_RE.exec(ref)
  if (!m) throw new ConfigError(`invalid reference ${JSON.stringify(ref)}: expected name[option=value, ...]`)
  const args: Record<string, string> = {}
  const inner = m[2]
  if (inner) {
    for (const arg of inner.matchAll(ARGUMENT_RE)) {
      const value = arg[2] ?? arg[3] ?? arg[4] ?? ''
      args[(arg[1] as string).trim()] = value.trim()
    }
  }
  return { name: m[1] as string, args }
}

/** Parses the references of a multi-line option such as `action =`: one per line, where a
 *  reference's [arguments] may themselves span lines; empty lines are skipped. */
export function parseReferenceList(value: string): Reference[] {
  return [...value.matchAll(LIST_ITEM_RE)]
    .map((m) => m[0].trim())
    .filter((item) => item !== '')
    .map(parseReference)
}
