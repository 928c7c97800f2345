import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { Command } from 'commander'
import { kafkaLog, withKafka } from './kafka-options.js'
import { configDirOf } from './run-command.js'
import { metricsAddress, serveMetrics, withMetrics } from './metrics-option.js'

/** `banstream actuate`: this host's firewall follows the fleet's decisions, until SIGINT or SIGTERM. */
export function actuateCommand(): Command {
  return withMetrics(withKafka(new Command('actuate'))
    .description("apply the fleet's decisions that target this host to its firewall, and report each as an actuation")
    .option('--host <name>', 'this host as decisions target it (default: this host name)')
    .option('--config <dir>', "configuration directory whose jails' actions apply here; default ./config, else the shipped one")
    .option('--fail2ban <dir>', 'read the actions of an existing fail2ban tree')
    .option('--log-file <path>', "this host's log in fail2ban.log's format", 'banstream-actuate.log')
    .option('--dry-run', 'log what each action would do instead of doing it'))
    .action(async (flags: { kafka?: string; host?: string; config?: string; fail2ban?: string; logFile: string; dryRun?: boolean; metrics?: string }) => {
      const metricsAt = metricsAddress(flags.metrics)
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
      const metrics = await serveMetrics(registry, metricsAt)
      process.stderr.write('banstream: actuating\n')
      await stopRequested
      await metrics?.close()
      await actuate.stop()
      await log.close()
    })
}
