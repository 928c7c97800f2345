import { KafkaLog, type KafkaLogOptions } from '../../src/log/kafka/kafka-log.js'
import { startDetect } from '../../src/roles/detect.js'

/**
 * One detect worker in a process of its own, for the fleet fault tests to
 * SIGKILL: argv is the KafkaLog options (JSON) and the configuration dir. It
 * prints `held <partitions>` whenever the decide partitions it holds change.
 */
const [logOptions, configDir] = process.argv.slice(2)
const log = new KafkaLog({ ...(JSON.parse(logOptions!) as KafkaLogOptions), report: () => undefined })
const detect = await startDetect({ log, configDir: configDir!, live: false, note: () => undefined })
let last: string | undefined
setInterval(() => {
  const held = detect.decidePartitions().join(',')
  if (held !== last) process.stdout.write(`held ${(last = held)}\n`)
}, 20)
