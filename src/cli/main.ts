#!/usr/bin/env node
import { Command, Option } from 'commander'
import { ControlApiConfigError } from '../api/api-settings.js'
import { ConfigError } from '../config/errors.js'
import { UnsupportedConstructError } from '../filters/unsupported-construct-error.js'
import { conformanceCommand } from './conformance-command.js'
import { regexCommand } from './regex-command.js'
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
    process.exitCode = await regexCommand(log, filter, opts, process.stdout)
  })

program.command('conformance')
  .description("run fail2ban's annotated sample logs (# failJSON:) against filters")
  .argument('<logdir>', 'directory of sample logs named after their filters')
  .option('--filters <dir>', "filter.d directory to test (default: banstream's built-in filters)")
  .option('--only <names>', 'comma-separated sample names', (v: string) => v.split(','))
  .option('--verbose', 'also list failregexes that no sample exercises')
  .action(async (logDir: string, opts) => {
    process.exitCode = await conformanceCommand(logDir, opts, process.stdout)
  })

// Scripts and benchmarks run `regex` and `conformance` over and over: these two start without
// reading the modules of the other commands (the API's schemas, the replay pipeline), a third of
// their start-up.
if (!['regex', 'conformance'].includes(process.argv[2] ?? '')) {
  program.addCommand((await import('./run-command.js')).runCommand())
  program.addCommand((await import('./topics-command.js')).topicsCommand())
  program.addCommand((await import('./forward-command.js')).forwardCommand())
  program.addCommand((await import('./detect-command.js')).detectCommand())
  program.addCommand((await import('./actuate-command.js')).actuateCommand())
  program.addCommand((await import('./store-command.js')).storeCommand())
  program.addCommand((await import('./api-command.js')).apiCommand())
  program.addCommand((await import('./client-command.js')).clientCommand())
  program.addCommand((await import('./replay-command.js')).replayCommand())
}

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
