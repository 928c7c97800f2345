import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, isAbsolute, join } from 'node:path'
import { ConfigStore } from './config-store.js'
import { ConfigError } from './errors.js'
import { parseIni, type IniDocument } from './ini-parser.js'

const INCLUDES = 'INCLUDES'

/** The merged configuration, the files asked for that exist, and every file read
 *  (includes too) in reading order. */
export interface ReadConfig {
  store: ConfigStore
  sources: string[]
  files: string[]
}

/** Reads `<basename>.conf`, `<basename>.d/*.conf`, `<basename>.local`, `<basename>.d/*.local`
 *  (each group sorted, missing ones skipped) with their [INCLUDES], as fail2ban's
 *  ConfigReader.read does. Throws when none of them exists. */
export function readConfig(basename: string): ReadConfig {
  const dropIns = `${basename}.d`
  const candidates = [
    `${basename}.conf`,
    ...listDir(dropIns, '.conf'),
    `${basename}.local`,
    ...listDir(dropIns, '.local'),
  ]
  const existing = candidates.filter(isFile)
  if (existing.length === 0) throw new ConfigError(`no configuration found: none of ${candidates.join(', ')} exists`)
  return readFiles(existing)
}

/** Reads exactly these files, each with its [INCLUDES] before/after (recursively, relative
 *  to the including file, loops cut), merged in order. Missing includes are skipped as
 *  fail2ban skips them (that is how optional `after = x.local` works). */
export function readFiles(files: string[]): ReadConfig {
  const cache = new Map<string, IniDocument | undefined>()
  const ordered = files.flatMap((file) => withIncludes(file, [], cache))
  const store = new ConfigStore()
  const read: string[] = []
  const sources = files.filter((file) => cache.get(file) !== undefined)
  for (const file of ordered) {
    const doc = parseFile(file, cache)
    if (!doc) continue
    store.merge(doc)
    read.push(file)
  }
  return { store, sources, files: read }
}

function withIncludes(resource: string, seen: string[], cache: Map<string, IniDocument | undefined>): string[] {
  const doc = parseFile(resource, cache)
  if (!doc) return []
  const single = new ConfigStore()
  single.merge(doc)
  const lists: Record<'before' | 'after', string[]> = { before: [], after: [] }
  if (single.hasSection(INCLUDES)) {
    for (const which of ['before', 'after'] as const) {
      if (!single.options(INCLUDES).includes(which)) continue
      const value = single.get(INCLUDES, which) ?? ''
      for (const line of value.split('\n')) {
        const target = isAbsolute(line) ? line : join(dirname(resource), line)
        if (seen.includes(target)) continue
        lists[which].push(...withIncludes(target, [...seen, resource], cache))
      }
    }
  }
  return [...lists.before, resource, ...lists.after]
}

function parseFile(file: string, cache: Map<string, IniDocument | undefined>): IniDocument | undefined {
  if (cache.has(file)) return cache.get(file)
  let doc: IniDocument | undefined
  if (isFile(file)) {
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file))
    } catch (err) {
      throw new ConfigError(`cannot read: ${(err as Error).message}`, file)
    }
    doc = parseIni(text, file)
  }
  cache.set(file, doc)
  return doc
}

function listDir(dir: string, suffix: string): string[] {
  if (!isDirectory(dir)) return []
  return readdirSync(dir)
    .filter((name) => name.endsWith(suffix) && !name.startsWith('.'))
    .sort()
    .map((name) => join(dir, name))
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}
