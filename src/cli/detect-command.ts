import { join } from 'node:path'
import { Command } from 'commander'
import { builtinConfigDir } from '../package-root.js'
import { kafkaLog, withKafka } from './kafka-options.js'
import { maxStreamsOf, maxStreamsOption } from './max-streams-option.js'
import { metricsAddress, serveMetrics, withMetrics } from './metrics-option.js'
import { configDirOf } from './run-command.js'

/** `banstream detect`: match and decide for the fleet, one member of a consumer group, until SIGINT or SIGTERM. */
export function detectCommand(): Command {
  return withMetrics(withKafka(new Command('detect'))
    .description('match lines to failures and decide bans for the fleet; run several, up to the partitions of failures')
    .option('--config <dir>', 'configuration directory (jails, filters); default ./config, else the shipped one')
    .option('--fail2ban <dir>', "read an existing fail2ban tree (filters RE2 cannot run are replaced by banstream's)")
    .addOption(maxStreamsOption()))
    .action(async (flags: { kafka?: string; config?: string; fail2ban?: string; metrics?: string; maxStreams?: string }) => {
      const metricsAt = metricsAddress(flags.metrics)
      const maxStreams = maxStreamsOf(flags.maxStreams)
      const stopRequested = new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      const note = (level: 'info' | 'warn' | 'error', message: string) => process.stderr.write(`${level}: ${message}\n`)
      const log = await kafkaLog(flags, 'banstream-detect')
      const { startDetect } = await import('../roles/detect.js')
      const { BanBook } = await import('../roles/ban-book.js')
      const { Registry } = await import('prom-client')
      const registry = new Registry()
      const detect = await startDetect({
        log,
        configDir: configDirOf(flags),
        ...(flags.fail2ban !== undefined ? { fallbackFilterDir: join(builtinConfigDir(), 'filter.d') } : {}),
        metrics: registry,
        ...(maxStreams !== undefined ? { maxStreams } : {}),
        note,
      })
      const metrics = await serveMetrics(registry, metricsAt)
      // The expire stage: every detect member lifts bans when they end; a lift made twice carries one id.
      const book = await BanBook.start({ log, report: (p) => note('warn', `log: ${p.kind}: ${p.reason}`) })
      process.stderr.write('banstream: detecting\n')
      await stopRequested
      await metrics?.close()
      await detect.stop()
      await book.stop()
      await log.close()
    })
}
