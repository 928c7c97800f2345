import { createStatements, DEFAULT_RETENTION, EVENT_TABLES, eventTableDdl, RETIRED_TABLES, retentionTtls, type EventTable, type Retention } from '../../schemas/clickhouse/tables.js'
import type { Store } from './store.js'

export interface MigrateOptions {
  /**
   * Whether this process is the store's only writer, as for the embedded store, which one process
   * opens: an event table made with another partition key is then copied into one with the current
   * key. Another writer's rows inserted during the copy would be lost, so otherwise the table is
   * left as it is (it reads right, only slower) and `note` says how to repartition it.
   */
  soleWriter?: boolean
  note?: (message: string) => void
}

/**
 * Drops what an earlier schema made and this one retired (RETIRED_TABLES),
 * creates the tables the store needs (those missing) and sets each
 * table's TTL to the retention, so a changed retention applies to tables
 * made by an earlier run. The TTL change is metadata only
 * (materialize_ttl_after_modify = 0): old rows go at the next merges instead
 * of in one rewrite of every part at start. A field added to an event
 * schema becomes a column of the tables made before it (a metadata change;
 * old rows read its default); a column no schema names any more is left,
 * unless the table is repartitioned (see MigrateOptions.soleWriter).
 */
export async function migrateStore(store: Store, retention: Retention = DEFAULT_RETENTION, options: MigrateOptions = {}): Promise<void> {
  for (const table of RETIRED_TABLES) await store.command(`DROP TABLE IF EXISTS ${table}`)
  for (const statement of createStatements(retention)) await store.command(statement)
  const existing = new Set((await store.query<{ c: string }>(
    "SELECT concat(table, '.', name) AS c FROM system.columns WHERE database = currentDatabase()",
  )).map((r) => r.c))
  for (const table of EVENT_TABLES) {
    for (const column of table.columns) {
      if (!existing.has(`${table.name}.${column.name}`)) await store.command(`ALTER TABLE ${table.name} ADD COLUMN ${column.name} ${column.type}`)
    }
    if (table.settings.length > 0) await store.command(`ALTER TABLE ${table.name} MODIFY SETTING ${table.settings.join(', ')}`)
  }
  await repartition(store, retention, options)
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

function repartitionedName(table: EventTable): string {
  return `${table.name}_repartitioned`
}

/** Copies each event table whose partition key is not the schema's into one that has it, in place of it; or notes it. */
async function repartition(store: Store, retention: Retention, { soleWriter = false, note }: MigrateOptions): Promise<void> {
  // A copy a crashed repartition left, before or after its exchange: the other table has every row.
  if (soleWriter) for (const table of EVENT_TABLES) await store.command(`DROP TABLE IF EXISTS ${repartitionedName(table)}`)
  const keys = new Map((await store.query<{ name: string; partition_key: string }>(
    'SELECT name, partition_key FROM system.tables WHERE database = currentDatabase()',
  )).map((r) => [r.name, r.partition_key.replace(/\s+/g, '')]))
  for (const table of EVENT_TABLES) {
    const key = keys.get(table.name)
    if (key === undefined || key === table.partitionBy.replace(/\s+/g, '')) continue
    if (!soleWriter) {
      note?.(`the ${table.name} table is partitioned by ${key}, not ${table.partitionBy}, so its reads are slower: ` +
        'stop every writer of the store and run `banstream store --repartition` once to copy it')
      continue
    }
    const copy = repartitionedName(table)
    const columns = table.columns.map((c) => c.name).join(', ')
    note?.(`repartitioning the ${table.name} table by ${table.partitionBy} (was ${key}): a copy of its rows`)
    await store.command(eventTableDdl(table, retention, copy))
    await store.command(`INSERT INTO ${copy} (${columns}) SELECT ${columns} FROM ${table.name} SETTINGS max_partitions_per_insert_block = 0`)
    await store.command(`EXCHANGE TABLES ${table.name} AND ${copy}`)
    await store.command(`DROP TABLE ${copy}`)
  }
}
