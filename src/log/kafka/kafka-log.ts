import type { ConnectionOptions } from 'node:tls'
import kafkajs, { type Admin, type KafkaConfig, type LogEntry, type Producer, type SASLOptions } from 'kafkajs'
import { LogError } from '../log-error.js'
import { partitionForKey } from '../murmur2.js'
import { checkTopicName } from '../names.js'
import type { BatchHandler, Log, LogProblem, LogRecord, ProblemReporter, ProducedRecord, StartFrom, SubscribeOptions, Subscription } from '../log.js'
import { DirectClient } from './direct-client.js'
import { startKafkaSubscription, toLogRecord, type KafkaSubscription } from './kafka-subscription.js'

const { Kafka, Partitioners, logLevel: KafkaLogLevel } = kafkajs

export interface KafkaLogOptions {
  /** Bootstrap brokers as host:port; the client learns the rest of the cluster from them. */
  brokers: string[]
  /** Names this process to the brokers (logs, quotas). Default `banstream`. */
  clientId?: string
  /** TLS to the brokers: `true` trusts the system CAs; an object is Node's TLS options (ca, cert, key, servername…), passed to kafkajs as is. */
  ssl?: boolean | ConnectionOptions
  /**
   * SASL authentication, passed to kafkajs as is, e.g.
   * `{ mechanism: 'scram-sha-512', username, password }` (also `plain`,
   * `scram-sha-256`, `aws`, `oauthbearer`). Use it with `ssl` unless the
   * network is trusted: `plain` sends the password as written.
   */
  sasl?: SASLOptions
  /**
   * Idempotent producer (default true): a retried produce is written once.
   * kafkajs asks the cluster's controller for a producer id, which needs a
   * Kafka that reports a reachable controller (librdkafka's mock cluster does not).
   */
  idempotent?: boolean
  /** Default 1000 (kafkajs's default). */
  connectionTimeoutMs?: number
  /** Default 30000. */
  requestTimeoutMs?: number
  /** A consumer that sends no heartbeat for this long leaves its group (default 30000). */
  sessionTimeoutMs?: number
  /** Default 3000; keep it well under sessionTimeoutMs. */
  heartbeatIntervalMs?: number
  /** How long the broker may hold an empty fetch (default 500, Kafka's fetch.max.wait.ms); records that arrive meanwhile are answered at once. */
  fetchMaxWaitMs?: number
  /** First delay before a failed handler gets its batch again; doubles up to 30 s (default 100). */
  handlerRetryBaseMs?: number
  /** kafkajs's own messages at or above this level go to stderr as JSON lines (default `warn`). */
  clientLogLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug'
  /** Where handler failures and consumer errors are reported (default: a JSON line on stderr). */
  report?: ProblemReporter
}

/** A topic as `banstream topics describe` shows it. */
export interface TopicDescription {
  topic: string
  partitions: number
  /** Per partition, the offset of the oldest record still kept. */
  startOffsets: number[]
  /** Per partition, the offset the next record will get. */
  endOffsets: number[]
}

const MiB = 1024 * 1024
/** Tries at offsets while leaders are unknown (backoff 0.2 s doubling to 3.2 s: about 20 s in all). */
const OFFSET_ATTEMPTS = 9

/**
 * The log on a Kafka cluster, through kafkajs. Keyed records are placed here
 * with murmur2 (the same function as Kafka's and kafkajs's default
 * partitioner), records without a key round-robin, so the returned positions
 * are known before the send and match the embedded log.
 *
 * Departures from the embedded log: several subscribers of one group share
 * the partitions (Kafka's consumer group); a subscription's start position
 * applies to a partition the first time this subscriber is assigned it;
 * commit() outside a running subscriber of the group is refused by Kafka
 * while the group has other active members.
 */
export class KafkaLog implements Log {
  private readonly kafka: InstanceType<typeof Kafka>
  private readonly settings: Required<Pick<KafkaLogOptions, 'idempotent' | 'sessionTimeoutMs' | 'heartbeatIntervalMs' | 'fetchMaxWaitMs' | 'handlerRetryBaseMs' | 'report'>>
  private readonly direct: DirectClient
  private readonly partitionCounts = new Map<string, number>()
  private readonly nextRoundRobin = new Map<string, number>()
  private readonly subscriptions = new Set<KafkaSubscription>()
  private admin: Promise<Admin> | undefined
  private producer: Promise<Producer> | undefined
  private closed = false

  constructor(options: KafkaLogOptions) {
    if (options.brokers.length === 0) throw new LogError('BANSTREAM_ERR_LOG_SETTINGS', 'KafkaLog needs at least one broker')
    const config: KafkaConfig = {
      brokers: options.brokers,
      clientId: options.clientId ?? 'banstream',
      connectionTimeout: options.connectionTimeoutMs ?? 1000,
      requestTimeout: options.requestTimeoutMs ?? 30_000,
      logLevel: KafkaLogLevel[(options.clientLogLevel ?? 'warn').toUpperCase() as 'WARN'],
      logCreator: () => logToStderr,
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
    }
    this.kafka = new Kafka(config)
    this.direct = new DirectClient(config)
    this.settings = {
      idempotent: options.idempotent ?? true,
      sessionTimeoutMs: options.sessionTimeoutMs ?? 30_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 3000,
      fetchMaxWaitMs: options.fetchMaxWaitMs ?? 500,
      handlerRetryBaseMs: options.handlerRetryBaseMs ?? 100,
      report: options.report ?? reportToStderr,
    }
  }

  /** Checks the topic has this many partitions, creating it when the cluster lets kafkajs (CreateTopics through the controller). */
  async createTopic(topic: string, partitions: number): Promise<void> {
    this.checkOpen()
    checkTopicName(topic)
    if (!Number.isSafeInteger(partitions) || partitions < 1) throw new LogError('BANSTREAM_ERR_LOG_PARTITIONS', `a topic needs a whole number of partitions >= 1, not ${partitions}`)
    const existing = await this.lookUpPartitions(topic)
    if (existing === undefined) {
      await this.create(topic, partitions)
      const created = await this.lookUpPartitions(topic)
      if (created === partitions) return
      throw new LogError('BANSTREAM_ERR_LOG_TOPIC_EXISTS', `topic ${topic} was created meanwhile with ${created ?? 'no'} partitions, not ${partitions}`)
    }
    if (existing !== partitions) throw new LogError('BANSTREAM_ERR_LOG_TOPIC_EXISTS', `topic ${topic} exists with ${existing} partitions, not ${partitions}`)
  }

  async append(topic: string, records: ProducedRecord[]): Promise<{ partition: number; offset: number }[]> {
    this.checkOpen()
    const partitions = await this.partitions(topic)
    for (const record of records) {
      if (!Buffer.isBuffer(record.value) || (record.key !== null && !Buffer.isBuffer(record.key))) throw new LogError('BANSTREAM_ERR_LOG_RECORD', 'a record needs a Buffer value and a Buffer or null key')
      if (record.timestamp !== undefined && !(Number.isSafeInteger(record.timestamp) && record.timestamp >= 0)) throw new LogError('BANSTREAM_ERR_LOG_RECORD', `invalid record timestamp ${record.timestamp}`)
    }
    if (records.length === 0) return []
    const placed = records.map((record) => (record.key === null ? this.roundRobin(topic, partitions) : partitionForKey(record.key, partitions)))
    const producer = await this.connectedProducer()
    const results = await producer.send({
      topic,
      acks: -1,
      messages: records.map((record, i) => ({
        key: record.key,
        value: record.value,
        partition: placed[i]!,
        ...(record.headers === undefined ? {} : { headers: record.headers }),
        ...(record.timestamp === undefined ? {} : { timestamp: String(record.timestamp) }),
      })),
    })
    // One send is one record batch per partition: its records get consecutive offsets from the batch's base, in input order.
    const next = new Map(results.map((r) => [r.partition, Number(r.baseOffset)]))
    return placed.map((partition) => {
      const offset = next.get(partition)
      if (offset === undefined) throw new LogError('BANSTREAM_ERR_LOG_PRODUCE', `Kafka did not acknowledge partition ${partition} of ${topic}`)
      next.set(partition, offset + 1)
      return { partition, offset }
    })
  }

  subscribe(opts: SubscribeOptions, handler: BatchHandler): Subscription {
    this.checkOpen()
    checkTopicName(opts.topic)
    for (const limit of ['maxBatchRecords', 'maxBatchBytes'] as const) {
      const value = opts[limit]
      if (value !== undefined && !(value >= 1)) throw new LogError('BANSTREAM_ERR_LOG_SETTINGS', `${limit} must be at least 1, not ${value}`)
    }
    const base = this.settings.handlerRetryBaseMs
    const subscription = startKafkaSubscription(
      this.kafka,
      {
        topic: opts.topic,
        group: opts.group,
        autoCommit: opts.autoCommit ?? true,
        maxBatchRecords: opts.maxBatchRecords ?? 500,
        maxBatchBytes: opts.maxBatchBytes ?? MiB,
        startPositions: () => this.startPositions(opts.topic, opts.from ?? 'committed'),
        sessionTimeoutMs: this.settings.sessionTimeoutMs,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        fetchMaxWaitMs: this.settings.fetchMaxWaitMs,
        retryDelayMs: (attempt) => Math.min(base * 2 ** (attempt - 1), 30_000),
        report: this.settings.report,
        ...(opts.onAssigned ? { onAssigned: (partitions: number[]) => opts.onAssigned!(partitions) } : {}),
        ...(opts.onRevoked ? { onRevoked: (partitions: number[]) => opts.onRevoked!(partitions) } : {}),
      },
      handler,
      () => this.subscriptions.delete(subscription),
    )
    this.subscriptions.add(subscription)
    return subscription
  }

  async read(topic: string, partition: number, fromOffset: number, maxRecords: number): Promise<LogRecord[]> {
    this.checkOpen()
    await this.checkPartition(topic, partition)
    if (!(maxRecords >= 1)) return []
    const [start, end] = await this.bounds(topic, partition)
    const messages = await this.direct.read(topic, partition, Math.max(fromOffset, start), end, maxRecords)
    return messages.map((m) => toLogRecord(topic, partition, m))
  }

  /**
   * Through a running subscriber of the group in this process when there is
   * one (of any topic: a stage may keep its position in a topic it reads
   * without subscribing); otherwise as Kafka's admin tools commit, which Kafka
   * refuses while the group has active members.
   */
  async commit(group: string, topic: string, partition: number, nextOffset: number): Promise<void> {
    this.checkOpen()
    await this.checkPartition(topic, partition)
    if (!Number.isSafeInteger(nextOffset) || nextOffset < 0) throw new LogError('BANSTREAM_ERR_LOG_OFFSET', `cannot commit offset ${nextOffset}`)
    for (const s of this.subscriptions) {
      if (s.group === group && (await s.commit(topic, partition, nextOffset))) return
    }
    try {
      await this.direct.commitOutsideGroup(group, topic, partition, nextOffset)
    } catch (err) {
      throw new LogError('BANSTREAM_ERR_LOG_COMMIT', `cannot commit ${topic}/${partition} at ${nextOffset} for group ${group} from outside the group: ${(err as Error).message}`, { cause: err })
    }
  }

  async committed(group: string, topic: string, partition: number): Promise<number | undefined> {
    this.checkOpen()
    await this.checkPartition(topic, partition)
    const admin = await this.connectedAdmin()
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
    const offset = Number(offsets?.partitions.find((p) => p.partition === partition)?.offset ?? -1)
    return offset >= 0 ? offset : undefined
  }

  async startOffsets(topic: string): Promise<number[]> {
    return (await this.offsets(topic)).map((o) => o.low)
  }

  async endOffsets(topic: string): Promise<number[]> {
    return (await this.offsets(topic)).map((o) => o.high)
  }

  /** The cluster's topics (internal ones such as __consumer_offsets left out). */
  async listTopics(): Promise<string[]> {
    this.checkOpen()
    const admin = await this.connectedAdmin()
    return (await admin.listTopics()).filter((t) => !t.startsWith('__')).sort()
  }

  /** Partition counts and offsets of the given topics (default: every topic), for `banstream topics describe`. */
  async describeTopics(topics?: string[]): Promise<TopicDescription[]> {
    const names = topics ?? (await this.listTopics())
    return Promise.all(
      names.map(async (topic) => {
        const offsets = await this.offsets(topic)
        return { topic, partitions: offsets.length, startOffsets: offsets.map((o) => o.low), endOffsets: offsets.map((o) => o.high) }
      }),
    )
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.subscriptions].map((s) => s.close()))
    const disconnect = async (client: Promise<{ disconnect(): Promise<void> }> | undefined) => {
      const connected = await client?.catch(() => undefined)
      await connected?.disconnect()
    }
    await Promise.all([disconnect(this.producer), disconnect(this.admin), this.direct.close()])
  }

  private async create(topic: string, partitions: number): Promise<void> {
    const admin = await this.connectedAdmin()
    // kafkajs sends CreateTopics to the controller; a cluster that names no reachable one (librdkafka's mock says 0) would only make it retry for seconds.
    const { brokers, controller } = await admin.describeCluster()
    if (!brokers.some((b) => b.nodeId === controller)) {
      throw new LogError(
        'BANSTREAM_ERR_LOG_CREATE_TOPIC',
        `cannot create topic ${topic}: the cluster names controller ${controller}, which is none of its brokers (${brokers.map((b) => b.nodeId).join(', ')}); create it with the cluster's tools, e.g. kafka-topics.sh --create --topic ${topic} --partitions ${partitions}`,
      )
    }
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
    } catch (err) {
      throw new LogError('BANSTREAM_ERR_LOG_CREATE_TOPIC', `cannot create topic ${topic} with ${partitions} partitions: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Where a new subscription puts each partition on first assignment; partitions not in the map start as `committed`. */
  private async startPositions(topic: string, from: StartFrom): Promise<Map<number, number>> {
    // Checked before kafkajs subscribes: its metadata request would make an auto-creating cluster create the topic.
    await this.partitions(topic)
    if (from === 'committed') return new Map()
    if (typeof from === 'object') return new Map(Object.entries(from.offsets).map(([p, o]) => [Number(p), o]))
    const offsets = await this.offsets(topic)
    return new Map(offsets.map((o, p) => [p, from === 'earliest' ? o.low : o.high]))
  }

  private async offsets(topic: string): Promise<{ low: number; high: number }[]> {
    this.checkOpen()
    const count = await this.partitions(topic)
    const admin = await this.connectedAdmin()
    for (let attempt = 1; ; attempt++) {
      try {
        const offsets = await admin.fetchTopicOffsets(topic)
        if (offsets.length >= count) return offsets.sort((a, b) => a.partition - b.partition).map((o) => ({ low: Number(o.low), high: Number(o.high) }))
        if (attempt >= OFFSET_ATTEMPTS) throw new LogError('BANSTREAM_ERR_LOG_OFFSETS', `Kafka answered offsets for ${offsets.length} of the ${count} partitions of ${topic}`)
      } catch (err) {
        // kafkajs #461: while a restarted broker has no leaders in its metadata yet, fetchTopicOffsets destructures an empty answer and throws a TypeError instead of retrying.
        if (!(err instanceof TypeError) || attempt >= OFFSET_ATTEMPTS) throw err
      }
      this.checkOpen()
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** Math.min(attempt, 5)))
    }
  }

  private async bounds(topic: string, partition: number): Promise<[number, number]> {
    const o = (await this.offsets(topic))[partition]!
    return [o.low, o.high]
  }

  private async checkPartition(topic: string, partition: number): Promise<void> {
    const count = await this.partitions(topic)
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= count) throw new LogError('BANSTREAM_ERR_LOG_UNKNOWN_PARTITION', `topic ${topic} has no partition ${partition}`)
  }

  /** The partition count, cached: Kafka only ever adds partitions, and a changed count would move keys anyway. */
  private async partitions(topic: string): Promise<number> {
    const known = this.partitionCounts.get(topic)
    if (known !== undefined) return known
    const count = await this.lookUpPartitions(topic)
    if (count === undefined) throw new LogError('BANSTREAM_ERR_LOG_UNKNOWN_TOPIC', `unknown topic ${topic}`)
    return count
  }

  private async lookUpPartitions(topic: string): Promise<number | undefined> {
    const admin = await this.connectedAdmin()
    // Listing first: a metadata request naming an unknown topic makes brokers with auto-creation (and the mock) create it.
    if (!(await admin.listTopics()).includes(topic)) return undefined
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    const count = topics[0]?.partitions.length
    if (count === undefined || count === 0) return undefined
    this.partitionCounts.set(topic, count)
    return count
  }

  private roundRobin(topic: string, partitions: number): number {
    const next = this.nextRoundRobin.get(topic) ?? 0
    this.nextRoundRobin.set(topic, next + 1)
    return next % partitions
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= connect(this.kafka.admin(), () => (this.admin = undefined))
    return this.admin
  }

  private connectedProducer(): Promise<Producer> {
    const idempotent = this.settings.idempotent
    this.producer ??= connect(
      // Every message names its partition; the partitioner is only given to keep kafkajs from warning about its default.
      this.kafka.producer({ idempotent, allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, ...(idempotent ? { maxInFlightRequests: 1 } : {}) }),
      () => (this.producer = undefined),
    )
    return this.producer
  }

  private checkOpen(): void {
    if (this.closed) throw new LogError('BANSTREAM_ERR_LOG_CLOSED', 'the log is closed')
  }
}

/** Connects once; a failed connection is forgotten so the next call tries again. */
async function connect<T extends { connect(): Promise<void> }>(client: T, forget: () => void): Promise<T> {
  try {
    await client.connect()
    return client
  } catch (err) {
    forget()
    throw new LogError('BANSTREAM_ERR_LOG_CONNECT', `cannot connect to Kafka: ${(err as Error).message}`, { cause: err })
  }
}

function logToStderr(entry: LogEntry): void {
  const { message, ...rest } = entry.log
  process.stderr.write(`${JSON.stringify({ level: entry.label.toLowerCase(), component: 'kafka', namespace: entry.namespace, message, ...rest })}\n`)
}

function reportToStderr(problem: LogProblem): void {
  process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'log', ...problem })}\n`)
}
