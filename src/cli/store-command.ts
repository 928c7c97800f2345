import { Command } from 'commander'
import { DEFAULT_RETENTION } from '../../schemas/clickhouse/tables.js'
import { ClickHouseSink } from '../../sinks/clickhouse/clickhouse-sink.js'
import { ClickHouseStore } from '../store/clickhouse-store.js'
import { lineRows } from '../store/line-rows.js'
import { migrateStore } from '../store/migrate.js'
import { historyLinesDaysOf, historyLinesOption } from './history-lines-option.js'
import { kafkaLog, withKafka } from './kafka-options.js'
import { UsageError } from './usage-error.js'
import { wholeNumberOf } from './whole-number-option.js'

/** `banstream store`: the fleet's failures, decisions and actuations into a ClickHouse server, until SIGINT or SIGTERM. */
export function storeCommand(): Command {
  return withKafka(new Command('store'))
    .description('keep every failure, decision and actuation of the fleet in ClickHouse')
    .option('--clickhouse <url>', 'the ClickHouse server (default: $BANSTREAM_CLICKHOUSE_URL)')
    .option('--clickhouse-user <name>', 'ClickHouse user (default: $BANSTREAM_CLICKHOUSE_USER)')
    .option('--clickhouse-password <password>', 'ClickHouse password (default: $BANSTREAM_CLICKHOUSE_PASSWORD)')
    .option('--batch-rows <n>', 'insert once this many rows wait (default 10000); larger batches make fewer parts for ClickHouse to merge')
    .option('--batch-delay <ms>', 'insert rows at the latest this long after the first of them arrived (default 1000)')
    .addOption(historyLinesOption())
    .option('--repartition', 'first copy a table an earlier banstream made with another partition key into one with the current key; stop every other writer of the store first')
    .action(async (flags: {
      kafka?: string; clickhouse?: string; clickhouseUser?: string; clickhousePassword?: string; historyLines?: string | boolean
      batchRows?: string; batchDelay?: string; repartition?: boolean
    }) => {
      const url = flags.clickhouse ?? process.env['BANSTREAM_CLICKHOUSE_URL']
      if (!url || !/^https?:\/\//.test(url)) throw new UsageError('--clickhouse http(s)://host:8123 (or $BANSTREAM_CLICKHOUSE_URL) is needed')
      const username = flags.clickhouseUser ?? process.env['BANSTREAM_CLICKHOUSE_USER']
      const password = flags.clickhousePassword ?? process.env['BANSTREAM_CLICKHOUSE_PASSWORD']
      const linesDays = historyLinesDaysOf(flags.historyLines)
      const batchRows = wholeNumberOf('--batch-rows', flags.batchRows, 1)
      const batchDelayMs = wholeNumberOf('--batch-delay', flags.batchDelay, 0)
      const stopRequested = new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      const store = new ClickHouseStore({ url, ...(username ? { username } : {}), ...(password ? { password } : {}) })
      await migrateStore(store, { ...DEFAULT_RETENTION, ...(linesDays !== undefined ? { lines_days: linesDays } : {}) }, {
        soleWriter: flags.repartition === true, note: (message) => process.stderr.write(`${flags.repartition ? 'banstream' : 'warn'}: store: ${message}\n`),
      })
      const log = await kafkaLog(flags, 'banstream-store')
      const sink = ClickHouseSink.start({
        log, store, onProblem: (p) => process.stderr.write(`warn: store: ${p.kind}: ${p.reason}\n`),
        ...(linesDays !== undefined ? { lines: lineRows } : {}),
        ...(batchRows !== undefined ? { max_batch_rows: batchRows } : {}),
        ...(batchDelayMs !== undefined ? { max_batch_delay_ms: batchDelayMs } : {}),
      })
      process.stderr.write('banstream: storing the event history\n')
      await stopRequested
      await sink.close()
      await log.close()
      await store.close()
    })
}
