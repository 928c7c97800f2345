/**
 * Regenerates schemas/generated/clickhouse.sql after a schema change (test/schemas/clickhouse/tables.test.ts
 * fails until it is):  npx tsx schemas/clickhouse/write-generated-sql.ts
 */
import { writeFileSync } from 'node:fs'
import { clickHouseSql } from './tables.js'

writeFileSync(new URL('../generated/clickhouse.sql', import.meta.url), clickHouseSql())
