import { resolve } from 'node:path'
import { Command } from 'commander'
import { kafkaLog, withKafka } from './kafka-options.js'
import { metricsAddress, serveMetrics, withMetrics } from './metrics-option.js'
import { configDirOf } from './run-command.js'
import { syslogOf, withSyslog, type SyslogFlags } from './syslog-options.js'

interface ForwardFlags extends SyslogFlags {
  kafka?: string
  config?: string
  fail2ban?: string
  dataDir: string
  host?: string
  metrics?: string
}

/** `banstream forward`: this host's logs, and syslog it receives, to Kafka's `lines` topic, until SIGINT or SIGTERM. */
export function forwardCommand(): Command {
  return withMetrics(withSyslog(withKafka(new Command('forward'))
    .description("send this host's jail logs (files, journal), and syslog from other hosts, to Kafka's lines topic")
    .option('--config <dir>', 'configuration directory whose jails name the logs; default ./config, else the shipped one')
    .option('--fail2ban <dir>', 'read the logs named by an existing fail2ban tree')
    .option('--data-dir <dir>', 'where read positions are kept', process.env['BANSTREAM_DATA_DIR'] ?? 'data')
    .option('--host <name>', 'the source host name in every batch of files and journal (default: this host name)')))
    .action(async (flags: ForwardFlags) => {
      const syslog = syslogOf(flags)
      const metricsAt = metricsAddress(flags.metrics)
      const stopRequested = new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      const log = await kafkaLog(flags, 'banstream-forward')
      const { startForward } = await import('../roles/forward.js')
      const { Registry } = await import('prom-client')
      const registry = new Registry()
      const forward = await startForward({
        log,
        configDir: configDirOf(flags),
        dataDir: resolve(flags.dataDir),
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(syslog ? { syslog } : {}),
        metrics: registry,
        note: (level, message) => process.stderr.write(`${level}: ${message}\n`),
      })
      const metrics = await serveMetrics(registry, metricsAt)
      process.stderr.write('banstream: forwarding to Kafka\n')
      await stopRequested
      await metrics?.close()
      await forward.stop()
      await log.close()
    })
}
