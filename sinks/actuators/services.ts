import { readFileSync } from 'node:fs'

/** Service names (and their aliases) to port numbers, as /etc/services lists them. */
export type ServiceTable = ReadonlyMap<string, number>

/**
 * Parses services(5) text: `name port/protocol [aliases...] [# comment]`.
 * The first line naming a service wins, as getservbyname reads the file.
 */
export function parseServices(text: string): Map<string, number> {
  const table = new Map<string, number>()
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') continue
    const [name, portProto, ...aliases] = line.split(/\s+/)
    const m = /^(\d{1,5})\/[a-z0-9-]+$/i.exec(portProto ?? '')
    if (!name || !m) continue
    const port = Number(m[1])
    if (port > 65535) continue
    for (const n of [name, ...aliases]) if (!table.has(n)) table.set(n, port)
  }
  return table
}

/** The host's service table; empty when the file is missing, so only numeric ports resolve. */
export function readServices(path = '/etc/services'): Map<string, number> {
  try {
    return parseServices(readFileSync(path, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw err
  }
}
