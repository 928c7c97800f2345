import { createRequire } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import type { KafkaConfig, KafkaMessage } from 'kafkajs'

/**
 * The two requests kafkajs's public API only makes as a group member: a
 * fetch of one partition range, and an offset commit for a group.
 *
 * kafkajs has no group-less consumer: every consumer joins a group, which on
 * Kafka waits group.initial.rebalance.delay.ms (3 s by default, and in the
 * mock cluster) and rebalances whoever else is in it. Rebuilding state reads
 * many small ranges, and an operator's commit must not disturb a group, so
 * this sends Fetch and OffsetCommit itself through kafkajs's Cluster and
 * Broker (internal modules of kafkajs 2.2.x, the version in package.json;
 * revisit on upgrade). Fetched records are filtered by kafkajs's own Batch, as
 * its consumer does (records before the asked offset, control records and
 * aborted transactions are dropped).
 */

interface FetchPartitionData {
  partition: number
  errorCode: number
  highWatermark: string
  abortedTransactions: unknown[]
  messages: KafkaMessage[]
}

interface InternalBroker {
  offsetCommit(request: {
    groupId: string
    groupGenerationId: number
    memberId: string
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[]
  }): Promise<unknown>
  fetch(request: {
    maxWaitTime: number
    minBytes: number
    maxBytes: number
    isolationLevel: number
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[]
  }): Promise<{ responses: { topicName: string; partitions: FetchPartitionData[] }[] }>
}

interface InternalCluster {
  connect(): Promise<void>
  disconnect(): Promise<void>
  addTargetTopic(topic: string): Promise<void>
  refreshMetadata(): Promise<void>
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>
  findBroker(query: { nodeId: string }): Promise<InternalBroker>
  findGroupCoordinator(query: { groupId: string }): Promise<InternalBroker>
}

type ClusterConstructor = new (options: Record<string, unknown>) => InternalCluster
interface FetchedBatch {
  /** What a consumer would deliver. */
  messages: KafkaMessage[]
  /** True when the fetch returned nothing at or past the asked offset, filtered records included. */
  isEmptyIncludingFiltered(): boolean
  /** The last offset fetched, filtered records included: where the next fetch continues. */
  lastOffset(): string
}
type BatchConstructor = new (topic: string, fetchedOffset: string, data: FetchPartitionData) => FetchedBatch

const require = createRequire(import.meta.url)
const Cluster = require('kafkajs/src/cluster/index.js') as ClusterConstructor
const Batch = require('kafkajs/src/consumer/batch.js') as BatchConstructor
const { createLogger, LEVELS } = require('kafkajs/src/loggers/index.js') as { createLogger: (o: { level: number; logCreator: unknown }) => unknown; LEVELS: Record<string, number> }
const defaultSocketFactory = require('kafkajs/src/network/socketFactory.js') as () => unknown
const READ_COMMITTED = 1
/** Bytes asked for in one fetch; a record larger than this still comes whole (Kafka returns at least one batch). */
const FETCH_BYTES = 1024 * 1024
/** Attempts of one fetch: a leader move or a broker restart fails a request or two before the metadata catches up. */
const FETCH_ATTEMPTS = 6

export class DirectClient {
  private readonly cluster: InternalCluster
  private connecting: Promise<void> | undefined

  constructor(config: KafkaConfig) {
    this.cluster = new Cluster({
      logger: createLogger({ level: config.logLevel ?? LEVELS.WARN!, logCreator: config.logCreator ?? require('kafkajs/src/loggers/console.js') }),
      socketFactory: config.socketFactory ?? defaultSocketFactory(),
      brokers: config.brokers,
      ssl: config.ssl,
      sasl: config.sasl,
      clientId: config.clientId,
      connectionTimeout: config.connectionTimeout ?? 1000,
      authenticationTimeout: config.authenticationTimeout,
      reauthenticationThreshold: config.reauthenticationThreshold,
      requestTimeout: config.requestTimeout,
      enforceRequestTimeout: config.enforceRequestTimeout ?? true,
      retry: config.retry,
      allowAutoTopicCreation: false,
      isolationLevel: READ_COMMITTED,
      offsets: new Map(),
    })
  }

  /**
   * Records of one partition from `fromOffset` (already clamped to the log
   * start by the caller) until `maxRecords` are collected or `endOffset` is
   * reached.
   */
  async read(topic: string, partition: number, fromOffset: number, endOffset: number, maxRecords: number): Promise<KafkaMessage[]> {
    await this.connect()
    await this.cluster.addTargetTopic(topic)
    const out: KafkaMessage[] = []
    let next = fromOffset
    while (out.length < maxRecords && next < endOffset) {
      const batch = await this.fetchRetrying(topic, partition, next)
      if (batch === undefined || batch.isEmptyIncludingFiltered()) break
      out.push(...batch.messages.slice(0, maxRecords - out.length))
      next = Number(batch.lastOffset()) + 1
    }
    return out
  }

  /**
   * Commits as Kafka's admin tools do (generation -1, no member id): Kafka
   * accepts this while the group has no active member and refuses it
   * otherwise, so it never moves offsets under a running consumer.
   */
  async commitOutsideGroup(group: string, topic: string, partition: number, nextOffset: number): Promise<void> {
    await this.connect()
    const coordinator = await this.cluster.findGroupCoordinator({ groupId: group })
    await coordinator.offsetCommit({ groupId: group, groupGenerationId: -1, memberId: '', topics: [{ topic, partitions: [{ partition, offset: String(nextOffset) }] }] })
  }

  async close(): Promise<void> {
    if (this.connecting === undefined) return
    await this.connecting.catch(() => undefined)
    await this.cluster.disconnect()
  }

  private async connect(): Promise<void> {
    this.connecting ??= this.cluster.connect().catch((err: unknown) => {
      this.connecting = undefined
      throw err
    })
    await this.connecting
  }

  private async fetchRetrying(topic: string, partition: number, offset: number): Promise<FetchedBatch | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fetchOnce(topic, partition, offset)
      } catch (err) {
        if (attempt === FETCH_ATTEMPTS) throw err
        await sleep(50 * 2 ** attempt)
        await this.cluster.refreshMetadata().catch(() => undefined)
      }
    }
  }

  private async fetchOnce(topic: string, partition: number, offset: number): Promise<FetchedBatch | undefined> {
    const leaders = this.cluster.findLeaderForPartitions(topic, [partition])
    const nodeId = Object.keys(leaders)[0]
    if (nodeId === undefined) throw new Error(`no leader known for ${topic}/${partition}`)
    const broker = await this.cluster.findBroker({ nodeId })
    const fetchOffset = String(offset)
    const { responses } = await broker.fetch({
      maxWaitTime: 0,
      minBytes: 1,
      maxBytes: FETCH_BYTES,
      isolationLevel: READ_COMMITTED,
      topics: [{ topic, partitions: [{ partition, fetchOffset, maxBytes: FETCH_BYTES }] }],
    })
    const data = responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition)
    return data === undefined ? undefined : new Batch(topic, fetchOffset, data)
  }
}
