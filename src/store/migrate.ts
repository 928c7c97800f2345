import { createStatements, DEFAULT_RETENTION, retentionTtls, type Retention } from '../../schemas/clickhouse/tables.js'
import type { Store } from './store.js'

/**
 * Creates the tables and views the store needs (those missing) and sets each
 * table's TTL to the retention, so a changed retention applies to tables
 * made by an earlier run. The TTL change is metadata only
 * (materialize_ttl_after_modify = 0): old rows go at the next merges instead
 * of in one rewrite of every part at start.
 */
export async function migrateStore(store: Store, retention: Retention = DEFAULT_RETENTION): Promise<void> {
  for (const statement of createStatements(retention)) await store.command(statement)
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
