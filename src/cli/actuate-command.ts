import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { kafkaLog, withKafka } from './kafka-options.js'
import { configDirOf } from './run-command.js'
import { UsageError } from './usage-error.js'

/** `banstream actuate`: this host's firewall follows the fleet's decisions, until SIGINT or SIGTERM. */
export function actuateCommand(): Command {
  return withKafka(new Command('actuate'))
    .description("apply the fleet's decisions that target this host to its firewall, and report each as an actuation")
    .option('--host <name>', 'this host as decisions target it (default: this host name)')
    .option('--config <dir>', "configuration directory whose jails' actions apply here; default ./config, else the shipped one")
    .option('--fail2ban <dir>', 'read the actions of an existing fail2ban tree')
    .option('--log-file <path>', "this host's log in fail2ban.log's format", 'banstream-actuate.log')
    .option('--dry-run', 'log what each action would do instead of doing it')
    .option('--metrics <host:port>', 'serve Prometheus metrics at http://<host:port>/metrics, without a token (e.g. 127.0.0.1:9464)')
    .action(async (flags: { kafka?: string; host?: string; config?: string; fail2ban?: string; logFile: string; dryRun?: boolean; metrics?: string }) => {
      const { parseListenAddress, startMetricsServer } = await import('../api/metrics-server.js')
      const metricsAt = flags.metrics === undefined ? undefined : parseListenAddress(flags.metrics)
      if (flags.metrics !== undefined && metricsAt === undefined) throw new UsageError(`--metrics ${flags.metrics}: use host:port, [v6-address]:port or :port`)
      const stopRequested = new Promise<void>((done) => {
        process.once('SIGINT', done)
        process.once('SIGTERM', done)
      })
      const log = await kafkaLog(flags, 'banstream-actuate')
      const { Registry } = await import('prom-client')
      const { startActuate } = await import('../roles/actuate.js')
      const registry = new Registry()
      const actuate = await startActuate({
        log,
        host: flags.host ?? hostname(),
        configDir: configDirOf(flags),
        logFile: resolve(flags.logFile),
        ...(flags.dryRun ? { dryRun: true } : {}),
        metrics: registry,
        note: (level, message) => process.stderr.write(`${level}: ${message}\n`),
      })
      const metrics = metricsAt && await startMetricsServer(registry, metricsAt)
      process.stderr.write('banstream: actuating\n')
      await stopRequested
      await metrics?.close()
      await actuate.stop()
      await log.close()
    })
}
