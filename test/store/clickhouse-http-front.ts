import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib'
import { sqlLiteral } from '../../schemas/clickhouse/tables.js'
import type { ChdbStore, InsertFormat } from '../../src/store/chdb-store.js'
import { StoreError, type QueryParam, type QueryParams } from '../../src/store/store.js'

/**
 * A test-only ClickHouse server: the part of ClickHouse's HTTP interface that
 * @clickhouse/client uses, answered by chDB. Debian's clickhouse-server is too
 * old for the client's query parameters, and the SQL is real ClickHouse SQL
 * either way, so the server driver is tested against this.
 *
 * Served: GET /ping; GET and POST / with the query in the `query` URL
 * parameter and/or the body (a body after an INSERT ... FORMAT query is its
 * data, as is the body of an INSERT ... SELECT ... FROM input('structure')
 * FORMAT ..., read by the SELECT; otherwise the body is appended to the query,
 * as ClickHouse does);
 * `database`; `default_format` (TabSeparated when absent) or a FORMAT clause;
 * `param_<name>` query parameters, bound by chDB as their `{name:Type}`
 * placeholder declares (scalars, and arrays of scalars); any other URL
 * parameter as a setting; gzip request bodies and, with
 * enable_http_compression=1, gzip responses; X-ClickHouse-Query-Id,
 * -Format, -Timezone and -Summary headers; errors as ClickHouse sends them
 * (body `Code: N. DB::Exception: ...`, X-ClickHouse-Exception-Code, status 400
 * for bad queries, 404 for unknown objects, 500 otherwise).
 * Not served: multipart parameters, sessions, Tuple and Map parameters, TLS.
 */
export interface ClickHouseHttpFront {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  close(): Promise<void>
}

/** URL parameters that are part of the protocol rather than settings. */
const PROTOCOL_PARAMS = new Set(['query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout',
  'session_check', 'user', 'password', 'role', 'compress', 'decompress', 'enable_http_compression', 'wait_end_of_query'])

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/
const INSERT_WITH_DATA = /^\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)\s*(?:\(([A-Za-z0-9_,\s]*)\))?\s*FORMAT\s+([A-Za-z]+)\s*$/i
/** INSERT ... SELECT ... FROM input('structure') FORMAT name: the SELECT reads the body as input(). */
const INSERT_FROM_INPUT = /^(\s*INSERT\s+INTO\s[\s\S]*\sFROM\s+)input\(\s*('(?:[^'\\]|\\.)*')\s*\)\s*FORMAT\s+([A-Za-z]+)\s*$/i
const INSERT_FORMATS = new Set<string>(['JSONEachRow', 'JSONCompactEachRow', 'CSV', 'CSVWithNames', 'TSV', 'TabSeparated', 'TSVWithNames', 'TabSeparatedWithNames'])
const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([^{}]+?)\s*\}/g

async function withBodyFile(body: Buffer, use: (path: string) => Promise<void>): Promise<void> {
  const path = join(tmpdir(), `banstream-http-front-${crypto.randomUUID()}.data`)
  await writeFile(path, body, { flag: 'wx', mode: 0o600 })
  try {
    await use(path)
  } finally {
    await rm(path, { force: true })
  }
}

/** ClickHouse's HTTP status for an exception code: 400 bad query, 404 unknown object, 500 otherwise. */
function httpStatus(code: number | undefined): number {
  if (code === undefined) return 500
  if ([60, 81, 46, 47, 16].includes(code)) return 404
  if ([62, 36, 27, 6, 26, 38, 41, 43, 53, 72, 115, 376, 457, 117].includes(code)) return 400
  return 500
}

/** The escape sequences of ClickHouse's Escaped (TSV) text, which query parameter values are written in. */
const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '0': '\0' }

function unescapeText(text: string): string {
  return text.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c)
}

/** Reads an array literal as @clickhouse/client writes one (`['a','b\'c',NULL,1.5,[2]]`) into JS values. */
function parseArrayLiteral(text: string): QueryParam {
  let i = 0
  const fail = (): never => {
    throw new StoreError(`Code: 457. DB::Exception: Cannot parse array parameter ${JSON.stringify(text)}. (BAD_QUERY_PARAMETER)`, 457)
  }
  const value = (): QueryParam => {
    while (text[i] === ' ') i++
    if (text[i] === '[') {
      i++
      const items: QueryParam[] = []
      while (text[i] === ' ') i++
      if (text[i] === ']') { i++; return items }
      for (;;) {
        items.push(value())
        while (text[i] === ' ') i++
        if (text[i] === ',') { i++; continue }
        if (text[i] === ']') { i++; return items }
        return fail()
      }
    }
    if (text[i] === "'") {
      let out = ''
      for (i++; i < text.length; i++) {
        const c = text[i]!
        if (c === '\\') { const n = text[++i] ?? fail(); out += ESCAPES[n] ?? n; continue }
        if (c === "'") { i++; return out }
        out += c
      }
      return fail()
    }
    const m = /^(NULL|TRUE|FALSE|[-+]?[0-9][0-9.eE+-]*|[-+]?inf|nan)/i.exec(text.slice(i)) ?? fail()
    i += m[0].length
    const word = m[0].toUpperCase()
    if (word === 'NULL') return null
    if (word === 'TRUE' || word === 'FALSE') return word === 'TRUE'
    if (/^[-+]?\d+$/.test(m[0])) return BigInt(m[0])
    return Number(m[0])
  }
  const result = value()
  if (i !== text.length) fail()
  return result
}

function innerType(type: string): string {
  const m = /^(?:Nullable|LowCardinality)\((.*)\)$/s.exec(type.trim())
  return m ? innerType(m[1]!) : type.trim()
}

/** The query's `param_` values as JS values for chDB, read by the type each placeholder declares. */
function boundParams(sql: string, raw: Map<string, string>): QueryParams {
  const types = new Map<string, string>()
  for (const m of sql.matchAll(PLACEHOLDER)) types.set(m[1]!, m[2]!)
  const params: Record<string, QueryParam> = {}
  for (const [name, text] of raw) {
    const type = types.get(name)
    if (type === undefined) continue
    const inner = innerType(type)
    if (text === '\\N') params[name] = null
    else if (/^Array\(/.test(inner)) params[name] = parseArrayLiteral(text)
    else if (/^(Tuple|Map)\(/.test(inner)) {
      throw new StoreError(`Code: 457. DB::Exception: the test front does not bind ${inner} parameters. (BAD_QUERY_PARAMETER)`, 457)
    } else params[name] = unescapeText(text)
  }
  return params
}

function settingLiteral(value: string): string {
  return /^-?\d+(\.\d+)?$/.test(value) ? value : `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const body = Buffer.concat(chunks)
  const encoding = req.headers['content-encoding']
  if (encoding === 'gzip') return gunzipSync(body)
  if (encoding === 'deflate') return inflateSync(body)
  return body
}

/** Starts the front on 127.0.0.1 (a free port), answering from `store`. */
export async function startClickHouseHttpFront(store: ChdbStore): Promise<ClickHouseHttpFront> {
  // One request at a time: `database` and settings are applied with USE and
  // SET on the one engine, and must not leak into a concurrent request.
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work)
    queue = run.catch(() => undefined)
    return run
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://front')
    if (url.pathname === '/ping') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' }).end('Ok.\n')
      return
    }
    const queryId = url.searchParams.get('query_id') ?? crypto.randomUUID()
    const format = url.searchParams.get('default_format') ?? 'TabSeparated'
    const database = url.searchParams.get('database') ?? 'default'
    const raw = new Map<string, string>()
    const settings: [string, string][] = []
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) raw.set(key.slice('param_'.length), value)
      else if (!PROTOCOL_PARAMS.has(key)) settings.push([key, value])
    }
    const compress = url.searchParams.get('enable_http_compression') === '1' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
    const headers: Record<string, string> = {
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Timezone': 'UTC',
      'X-ClickHouse-Server-Display-Name': 'banstream-test-front',
    }
    try {
      const body = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0)
      const urlQuery = url.searchParams.get('query')
      if (!IDENTIFIER.test(database)) throw new StoreError(`Code: 81. DB::Exception: Database ${database} does not exist. (UNKNOWN_DATABASE)`, 81)
      for (const [name] of settings) {
        if (!IDENTIFIER.test(name)) throw new StoreError(`Code: 115. DB::Exception: Unknown setting '${name}'. (UNKNOWN_SETTING)`, 115)
      }
      const out = await exclusive(async () => {
        await store.command(`USE ${database}`)
        try {
          for (const [name, value] of settings) await store.command(`SET ${name} = ${settingLiteral(value)}`)
          const insert = urlQuery !== null && body.length > 0 ? INSERT_WITH_DATA.exec(urlQuery) : null
          if (insert && INSERT_FORMATS.has(insert[3]!)) {
            const columns = insert[2]?.split(',').map((c) => c.trim()).filter((c) => c !== '')
            const written = await store.insertFormatted(insert[1]!, columns?.length ? columns : undefined, insert[3] as InsertFormat, body)
            const summary = { read_rows: '0', read_bytes: '0', written_rows: String(written.rowsWritten), written_bytes: String(written.bytesWritten),
              total_rows_to_read: '0', result_rows: String(written.rowsWritten), result_bytes: String(written.bytesWritten) }
            return { body: Buffer.alloc(0), summary, format }
          }
          const fromInput = urlQuery !== null && body.length > 0 ? INSERT_FROM_INPUT.exec(urlQuery) : null
          if (fromInput && INSERT_FORMATS.has(fromInput[3]!)) {
            // chDB has no request body for input() to read: the same SELECT reads the body from a file.
            await withBodyFile(body, (path) => store.command(`${fromInput[1]}file(${sqlLiteral(path)}, ${sqlLiteral(fromInput[3]!)}, ${fromInput[2]})`))
            return { body: Buffer.alloc(0), summary: { read_rows: '0', read_bytes: '0', written_rows: '0', written_bytes: '0', total_rows_to_read: '0' }, format }
          }
          const sql = urlQuery === null ? body.toString('utf8') : body.length > 0 ? `${urlQuery}\n${body.toString('utf8')}` : urlQuery
          const result = await store.execute(sql, boundParams(sql, raw), format)
          const summary = { read_rows: String(result.rowsRead), read_bytes: String(result.bytesRead), written_rows: '0', written_bytes: '0',
            total_rows_to_read: String(result.rowsRead), elapsed_ns: String(Math.round(result.elapsedSecs * 1e9)) }
          return { body: Buffer.from(result.body), summary, format: /FORMAT\s+([A-Za-z]+)\s*;?\s*$/i.exec(sql)?.[1] ?? format }
        } finally {
          for (const [name] of settings) await store.command(`SET ${name} = DEFAULT`).catch(() => undefined)
          await store.command('USE default')
        }
      })
      headers['X-ClickHouse-Format'] = out.format
      headers['X-ClickHouse-Summary'] = JSON.stringify(out.summary)
      headers['Content-Type'] = out.format.startsWith('JSON') ? 'application/json; charset=UTF-8' : 'text/plain; charset=UTF-8'
      if (compress) headers['Content-Encoding'] = 'gzip'
      res.writeHead(200, headers).end(compress ? gzipSync(out.body) : out.body)
    } catch (error) {
      const code = error instanceof StoreError ? error.clickhouseCode : undefined
      const message = error instanceof Error ? error.message : String(error)
      const text = message.startsWith('Code: ') ? message : `Code: ${code ?? 1001}. DB::Exception: ${message}. (STD_EXCEPTION)`
      res.writeHead(httpStatus(code), { ...headers, 'X-ClickHouse-Exception-Code': String(code ?? 1001), 'Content-Type': 'text/plain; charset=UTF-8' })
        .end(`${text}\n`)
    }
  }

  const server = createServer((req, res) => { void handle(req, res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections()
      server.close((error) => (error ? reject(error) : resolve()))
    }),
  }
}
