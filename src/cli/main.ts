#!/usr/bin/env node
import { Command, Option } from 'commander'
import { ControlApiConfigError } from '../api/api-settings.js'
import { ConfigError } from '../config/errors.js'
import { UnsupportedConstructError } from '../filters/unsupported-construct-error.js'
import { UsageError } from './usage-error.js'

const collect = (value: string, previous: string[]): string[] => [...previous, value]

const program = new Command('banstream')
  .description('fail2ban rebuilt as an event-sourced stream processor')
  .showHelpAfterError()

program.command('regex')
  .description('test a filter on a log, as fail2ban-regex does')
  .argument('<log>', "log file, or '-' for standard input")
  .argument('<filter>', 'built-in filter name, path to a fail2ban filter file, or an inline failregex')
  .option('--json', 'one JSON object per line that produced a failure, nothing else')
  .option('--now <iso8601>', 'the current time, for yearless dates and undated lines')
  .option('--opt <key=value>', 'filter option, e.g. mode=aggressive or logtype=journal (repeatable)', collect, [])
  .option('--missed', 'print the lines no failregex matched')
  .addOption(new Option('--timezone <zone>', "the log's time zone (logtimezone), e.g. UTC or Europe/Zurich"))
  .action(async (log: string, filter: string, opts) => {
    const { regexCommand } = await import('./regex-command.js')
    process.exitCode = await regexCommand(log, filter, opts, process.stdout)
  })

program.command('conformance')
  .description("run fail2ban's annotated sample logs (# failJSON:) against filters")
  .argument('<logdir>', 'directory of sample logs named after their filters')
  .option('--filters <dir>', "filter.d directory to test (default: banstream's built-in filters)")
  .option('--only <names>', 'comma-separated sample names', (v: string) => v.split(','))
  .option('--verbose', 'also list failregexes that no sample exercises')
  .action(async (logDir: string, opts) => {
    const { conformanceCommand } = await import('./conformance-command.js')
    process.exitCode = await conformanceCommand(logDir, opts, process.stdout)
  })

/**
 * The other commands, each read only when it is the one run: together their modules (the API's
 * schemas, Kafka, the stores, the replay pipeline) take ~250 ms to load, where `banstream client`
 * needs its own ~80 and `regex` none of them. Help and an unknown command read them all.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run-command.js')).runCommand(),
  topics: async () => (await import('./topics-command.js')).topicsCommand(),
  forward: async () => (await import('./forward-command.js')).forwardCommand(),
  detect: async () => (await import('./detect-command.js')).detectCommand(),
  actuate: async () => (await import('./actuate-command.js')).actuateCommand(),
  store: async () => (await import('./store-command.js')).storeCommand(),
  api: async () => (await import('./api-command.js')).apiCommand(),
  client: async () => (await import('./client-command.js')).clientCommand(),
  replay: async () => (await import('./replay-command.js')).replayCommand(),
}
const named = process.argv[2] ?? ''
if (Object.hasOwn(COMMANDS, named)) program.addCommand(await COMMANDS[named]!())
else if (!['regex', 'conformance'].includes(named)) for (const load of Object.values(COMMANDS)) program.addCommand(await load())

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof ControlApiConfigError || err instanceof UnsupportedConstructError
    || ['ENOENT', 'EACCES', 'EADDRINUSE', 'BANSTREAM_ERR_LOG_LOCKED'].includes((err as NodeJS.ErrnoException).code ?? '')) {
    process.stderr.write(`banstream: ${(err as Error).message.split('\n')[0]}\n`)
    process.exitCode = 2
  } else {
    throw err
  }
}
