import { Command } from 'commander'
import { Topics } from '../../schemas/topics.js'
import { kafkaLog, withKafka } from './kafka-options.js'
import { UsageError } from './usage-error.js'

const ALL = Object.values(Topics).map((t) => t.name)

/** `banstream topics create|describe`: the fleet's topics on Kafka. */
export function topicsCommand(): Command {
  const topics = new Command('topics').description("create or describe banstream's Kafka topics")
  topics.addCommand(withKafka(new Command('create'))
    .description(`create ${ALL.join(', ')} (an existing topic with the same partition count is left as it is)`)
    .option('--partitions <n>', 'partitions of failures, decisions and commands (the decide stage scales up to this many workers)', '12')
    .option('--lines-partitions <n>', 'partitions of lines (default: --partitions)')
    .option('--actuations-partitions <n>', 'partitions of actuations', '3')
    .action(async (flags: { kafka?: string; partitions: string; linesPartitions?: string; actuationsPartitions: string }) => {
      const counts: Record<string, number> = {
        [Topics.lines.name]: count('--lines-partitions', flags.linesPartitions ?? flags.partitions),
        [Topics.failures.name]: count('--partitions', flags.partitions),
        [Topics.decisions.name]: count('--partitions', flags.partitions),
        [Topics.commands.name]: count('--partitions', flags.partitions),
        [Topics.actuations.name]: count('--actuations-partitions', flags.actuationsPartitions),
      }
      const log = await kafkaLog(flags, 'banstream-topics')
      try {
        for (const [topic, partitions] of Object.entries(counts)) {
          await log.createTopic(topic, partitions)
          process.stdout.write(`${topic}: ${partitions} partitions\n`)
        }
      } finally {
        await log.close()
      }
    }))
  topics.addCommand(withKafka(new Command('describe'))
    .description('partitions and offsets of each topic')
    .option('--json', 'print JSON')
    .action(async (flags: { kafka?: string; json?: boolean }) => {
      const log = await kafkaLog(flags, 'banstream-topics')
      try {
        const present = new Set(await log.listTopics())
        const described = await log.describeTopics(ALL.filter((t) => present.has(t)))
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ topics: described, missing: ALL.filter((t) => !present.has(t)) })}\n`)
          return
        }
        for (const t of described) {
          const records = t.endOffsets.reduce((sum, end, p) => sum + end - (t.startOffsets[p] ?? 0), 0)
          process.stdout.write(`${t.topic}: ${t.partitions} partitions, ${records} records kept\n`)
        }
        for (const t of ALL.filter((name) => !present.has(name))) process.stdout.write(`${t}: missing (banstream topics create)\n`)
      } finally {
        await log.close()
      }
    }))
  return topics
}

function count(flag: string, text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text) || n < 1 || n > 10_000) throw new UsageError(`${flag} ${text} is not a partition count`)
  return n
}
