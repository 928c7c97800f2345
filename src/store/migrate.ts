import { createStatements, DEFAULT_RETENTION, EVENT_TABLES, RETIRED_TABLES, retentionTtls, type Retention } from '../../schemas/clickhouse/tables.js'
import type { Store } from './store.js'

/**
 * Drops what an earlier schema made and this one retired (RETIRED_TABLES),
 * creates the tables the store needs (those missing) and sets each
 * table's TTL to the retention, so a changed retention applies to tables
 * made by an earlier run. The TTL change is metadata only
 * (materialize_ttl_after_modify = 0): old rows go at the next merges instead
 * of in one rewrite of every part at start. A field added to an event
 * schema becomes a column of the tables made before it (a metadata change;
 * old rows read its default); a column no schema names any more is left.
 */
export async function migrateStore(store: Store, retention: Retention = DEFAULT_RETENTION): Promise<void> {
  for (const table of RETIRED_TABLES) await store.command(`DROP TABLE IF EXISTS ${table}`)
  for (const statement of createStatements(retention)) await store.command(statement)
  const existing = new Set((await store.query<{ c: string }>(
    "SELECT concat(table, '.', name) AS c FROM system.columns WHERE database = currentDatabase()",
  )).map((r) => r.c))
  for (const table of EVENT_TABLES) {
    for (const column of table.columns) {
      if (!existing.has(`${table.name}.${column.name}`)) await store.command(`ALTER TABLE ${table.name} ADD COLUMN ${column.name} ${column.type}`)
    }
  }
  const withTtl = new Set(
    (await store.query<{ name: string }>(
      "SELECT name FROM system.tables WHERE database = currentDatabase() AND position(engine_full, ' TTL ') > 0",
    )).map((r) => r.name),
  )
  for (const { table, ttl } of retentionTtls(retention)) {
    if (ttl !== null) await store.command(`ALTER TABLE ${table} MODIFY TTL ${ttl} SETTINGS materialize_ttl_after_modify = 0`)
    else if (withTtl.has(table)) await store.command(`ALTER TABLE ${table} REMOVE TTL`)
  }
}
