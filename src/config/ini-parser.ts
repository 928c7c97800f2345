import { ConfigError } from './errors.js'

/** One INI file as Python's configparser reads it for fail2ban: option names lower-cased,
 *  values with continuation lines joined by '\n', sections and options in file order. */
export interface IniDocument {
  file: string
  defaults: Map<string, string>
  sections: Map<string, Map<string, string>>
}

const DEFAULT_SECTION = 'DEFAULT'
const SECTION_RE = /^\[(.+)\]/
// Python's OPTCRE: the first '=' or ':' splits the key from the value.
const OPTION_RE = /^(.*?)\s*([=:])\s*(.*)$/

/** Where a comment starts: a full-line '#' or ';', or an inline ';' that begins the line or
 *  follows whitespace (fail2ban sets inline_comment_prefixes = ";"). */
function commentStart(line: string): number | undefined {
  const trimmed = line.trim()
  if (trimmed.startsWith('#') || trimmed.startsWith(';')) return 0
  for (let i = line.indexOf(';'); i >= 0; i = line.indexOf(';', i + 1)) {
    if (i === 0 || /\s/.test(line[i - 1] ?? '')) return i
  }
  return undefined
}

/** Parses fail2ban INI text with configparser's rules (strict: a section or option repeated
 *  inside one file is an error; internal blank lines of a multi-line value are kept). */
export function parseIni(text: string, file: string): IniDocument {
  const doc: IniDocument = { file, defaults: new Map(), sections: new Map() }
  const pending = new Map<Map<string, string>, Map<string, string[]>>()
  const seenSections = new Set<string>()
  const seenOptions = new Set<string>()
  let current: Map<string, string[]> | undefined
  let sectionName: string | undefined
  let optionName: string | undefined
  let indentLevel = 0
  const lines = text.replace(/\r\n?/g, '\n').split('\n')

  lines.forEach((line, index) => {
    const lineNo = index + 1
    const start = commentStart(line)
    const value = (start === undefined ? line : line.slice(0, start)).trim()
    if (value === '') {
      // A blank line may sit inside a multi-line value; a comment line never adds to it.
      if (start === undefined && current && optionName !== undefined) current.get(optionName)?.push('')
      return
    }
    const indent = line.search(/\S/)
    if (current && optionName !== undefined && indent > indentLevel) {
      current.get(optionName)?.push(value)
      return
    }
    indentLevel = indent
    const header = SECTION_RE.exec(value)
    if (header) {
      const name = header[1] as string
      if (name === DEFAULT_SECTION) {
        current = lookupPending(pending, doc.defaults)
      } else {
        if (seenSections.has(name)) throw new ConfigError(`line ${lineNo}: section [${name}] already exists`, file)
        seenSections.add(name)
        const section = new Map<string, string>()
        doc.sections.set(name, section)
        current = lookupPending(pending, section)
      }
      sectionName = name
      optionName = undefined
      return
    }
    if (!current || sectionName === undefined) {
      throw new ConfigError(`line ${lineNo}: option outside of any [section]: ${JSON.stringify(line)}`, file)
    }
    const option = OPTION_RE.exec(value)
    const key = option?.[1]?.trimEnd().toLowerCase()
    if (!option || !key) throw new ConfigError(`line ${lineNo}: cannot parse ${JSON.stringify(line)}`, file)
    const id = `${sectionName}\u0000${key}`
    if (seenOptions.has(id)) {
      throw new ConfigError(`line ${lineNo}: option '${key}' in section [${sectionName}] already exists`, file, key)
    }
    seenOptions.add(id)
    current.set(key, [(option[3] ?? '').trim()])
    optionName = key
  })

  for (const [target, values] of pending) {
    for (const [key, parts] of values) target.set(key, parts.join('\n').trimEnd())
  }
  return doc
}

function lookupPending(
  pending: Map<Map<string, string>, Map<string, string[]>>,
  target: Map<string, string>,
): Map<string, string[]> {
  let values = pending.get(target)
  if (!values) {
    values = new Map()
    pending.set(target, values)
  }
  return values
}
