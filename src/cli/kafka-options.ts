import type { Command } from 'commander'
import type { KafkaLog } from '../log/kafka/kafka-log.js'
import { UsageError } from './usage-error.js'

export const BROKERS_ENV = 'BANSTREAM_KAFKA_BROKERS'
/** '0' turns the idempotent producer off, for clusters that cannot give producer ids (librdkafka's mock cluster). */
export const IDEMPOTENT_ENV = 'BANSTREAM_KAFKA_IDEMPOTENT'

/** Adds --kafka to a fleet command. */
export function withKafka(command: Command): Command {
  return command.option('--kafka <brokers>', `Kafka bootstrap brokers, host:port[,host:port...] (default: $${BROKERS_ENV})`)
}

/** The Kafka log a fleet command works on, from --kafka or the environment; kafkajs loads only then. */
export async function kafkaLog(flags: { kafka?: string }, clientId: string): Promise<KafkaLog> {
  const text = flags.kafka ?? process.env[BROKERS_ENV]
  const brokers = (text ?? '').split(',').map((b) => b.trim()).filter((b) => b !== '')
  if (brokers.length === 0) throw new UsageError(`no Kafka brokers: pass --kafka host:port or set $${BROKERS_ENV}`)
  for (const broker of brokers) if (!/^[^\s:]+:\d{1,5}$/.test(broker)) throw new UsageError(`--kafka: '${broker}' is not host:port`)
  const { KafkaLog } = await import('../log/kafka/kafka-log.js')
  return new KafkaLog({ brokers, clientId, idempotent: process.env[IDEMPOTENT_ENV] !== '0' })
}
