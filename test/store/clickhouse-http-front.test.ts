import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import { ChdbStore } from '../../src/store/chdb-store.js'
import { startClickHouseHttpFront, type ClickHouseHttpFront } from './clickhouse-http-front.js'

describe('ClickHouse HTTP front over chDB', () => {
  let dir = ''
  let engine: ChdbStore
  let front: ClickHouseHttpFront
  let client: ClickHouseClient

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'banstream-front-'))
    engine = ChdbStore.open(dir)
    await engine.command('CREATE DATABASE IF NOT EXISTS db1')
    await engine.command('CREATE TABLE db1.t (id UInt64, name String) ENGINE = MergeTree ORDER BY id')
    front = await startClickHouseHttpFront(engine)
    client = createClient({ url: front.url, database: 'db1', compression: { request: true, response: true } })
  })
  after(async () => {
    await client.close()
    await front.close()
    await engine.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers ping', async () => {
    assert.deepEqual(await client.ping(), { success: true })
  })

  it('takes gzip inserts into the requested database and reports written rows in X-ClickHouse-Summary', async () => {
    const result = await client.insert({ table: 't', values: [{ id: 1, name: 'a' }, { id: 2, name: "b'c" }], format: 'JSONEachRow' })
    assert.equal(result.summary?.written_rows, '2')
    const rows = await (await client.query({ query: 'SELECT id, name FROM t ORDER BY id', format: 'JSONEachRow' })).json()
    assert.deepEqual(rows, [{ id: 1, name: 'a' }, { id: 2, name: "b'c" }])
  })

  it('applies settings given as URL parameters to that query only', async () => {
    const quoted = await (await client.query({ query: 'SELECT toUInt64(7) AS n', format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } })).json()
    assert.deepEqual(quoted, [{ n: '7' }])
    const plain = await (await client.query({ query: 'SELECT toUInt64(7) AS n', format: 'JSONEachRow' })).json()
    assert.deepEqual(plain, [{ n: 7 }], 'the engine default (ChdbStore sets 0) is back')
  })

  it('serves the query in the body with default_format, and the body after an URL query', async () => {
    const byBody = await fetch(`${front.url}/?default_format=JSONEachRow`, { method: 'POST', body: 'SELECT 1 AS one' })
    assert.equal(byBody.headers.get('x-clickhouse-format'), 'JSONEachRow')
    assert.equal(await byBody.text(), '{"one":1}\n')
    const split = await fetch(`${front.url}/?query=${encodeURIComponent('SELECT 2 AS two')}`, { method: 'POST', body: 'FORMAT JSONEachRow' })
    assert.equal(await split.text(), '{"two":2}\n')
  })

  it('sends errors as ClickHouse does: code header, Code: N body, 400 for a bad query, 404 for an unknown table', async () => {
    const syntax = await fetch(`${front.url}/?query=${encodeURIComponent('SELEC 1')}`)
    assert.equal(syntax.status, 400)
    assert.equal(syntax.headers.get('x-clickhouse-exception-code'), '62')
    assert.match(await syntax.text(), /^Code: 62\. DB::Exception: .*\(SYNTAX_ERROR\)/)
    const missing = await fetch(`${front.url}/?query=${encodeURIComponent('SELECT * FROM nowhere')}`)
    assert.equal(missing.status, 404)
    assert.equal(missing.headers.get('x-clickhouse-exception-code'), '60')
    await assert.rejects(client.query({ query: 'SELECT 1', clickhouse_settings: { no_such_setting: 1 } as never }),
      (e: unknown) => (e as { code?: string }).code === '115')
  })

  it('binds param_ values by their placeholder type, hostile text included', async () => {
    const hostile = "x'); DROP TABLE t; --\\"
    const rows = await (await client.query({ query: 'SELECT {s:String} AS s, {a:Array(String)} AS a, {n:Nullable(UInt8)} AS n, count() AS c FROM t WHERE name = {s:String}',
      query_params: { s: hostile, a: [hostile, 'ok'], n: null }, format: 'JSONEachRow' })).json()
    assert.deepEqual(rows, [{ s: hostile, a: [hostile, 'ok'], n: null, c: 0 }])
  })
})
