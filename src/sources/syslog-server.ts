import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, isIPv6, type AddressInfo, type Server, type Socket } from 'node:net'
import { addressBits, contains, parseAddress } from '../../schemas/events/address.js'
import { SyslogFrameDecoder } from './syslog-framing.js'
import { renderSyslogMessage } from './syslog-message.js'
import { stderrLog, type LineBatch, type Source, type SourceCounters, type SourceLog } from './source.js'

/** The stream every syslog batch belongs to unless configured otherwise: what `backend = syslog` jails read. */
export const SYSLOG_STREAM = 'syslog'

export interface SyslogListen {
  /** Default '0.0.0.0'; '::' listens on IPv6 (and IPv4 where the system maps it). */
  address?: string
  /** Default 514; 0 picks a free port (see addresses()). */
  port?: number
}

/** Receives syslog from other hosts and hands it on as the lines rsyslog would have written to a file. */
export interface SyslogServerConfig {
  /** Listen for datagrams, one message each. */
  udp?: SyslogListen
  /** Listen for connections framed by newline or by octet counting (RFC 6587), decided per frame. */
  tcp?: SyslogListen
  /** The stream of every batch, which jails select on. Default SYSLOG_STREAM. */
  stream?: string
  /**
   * Addresses and networks (`192.0.2.0/24`, `2001:db8::/32`) that may send; a datagram or connection
   * from elsewhere is dropped and counted as `refused_senders`. Absent: every sender. A sender chooses
   * the lines, so it can get any address banned: list only the hosts whose logs are trusted.
   */
  allowed_senders?: readonly string[]
  /** Longer messages are cut to this many bytes and counted as `oversized`. Default 65536. */
  max_message_bytes?: number
  /** Messages waiting for emit; past it datagrams are dropped (counted) and connections are paused. Default 100000. */
  max_queued_messages?: number
  /** Most lines in one batch. Default 1000. */
  max_batch_lines?: number
  /**
   * Most bytes of lines in one batch (a batch holds at least one line): a batch is one `lines` record,
   * which the log and Kafka bound (1 MiB). Default 262144, as a file tail's reads.
   */
  max_batch_bytes?: number
  /**
   * TCP connections at once; more are dropped on accept (counted as `refused_connections`). Each may
   * hold an unfinished frame of up to max_message_bytes, so this bounds what senders can pin. Default 1024.
   */
  max_connections?: number
  /**
   * TCP connections from one sender address at once; more are dropped on accept (counted as
   * `refused_connections`), so one host cannot hold every slot of max_connections. Default 64.
   */
  max_connections_per_sender?: number
  /** IANA zone of the rendered times (see SyslogContext.time_zone). Default: the process's zone. */
  time_zone?: string
  log?: SourceLog
  /** Wall clock in milliseconds; injectable for tests. */
  now?: () => number
}

interface Queued {
  host: string
  line: Buffer
}

/** Idle time before the first keepalive probe; the kernel's probe interval and count decide the rest. */
const TCP_KEEPALIVE_DELAY_MS = 60_000

export class SyslogServer implements Source {
  private readonly stream: string
  private readonly maxMessageBytes: number
  private readonly maxQueued: number
  private readonly maxBatch: number
  private readonly maxBatchBytes: number
  private readonly log: SourceLog
  private readonly now: () => number
  private readonly senders: SenderList | undefined
  private readonly count = {
    messages: 0,
    batches: 0,
    oversized: 0,
    bad_frames: 0,
    dropped: 0,
    connection_errors: 0,
    refused_connections: 0,
    refused_senders: 0,
    emit_errors: 0,
  }
  private readonly connections = new Set<Socket>()
  private readonly connectionsBySender = new Map<string, number>()
  private queue: Queued[] = []
  private queueHead = 0
  private paused = false
  private pumping: Promise<void> | undefined
  private emit: ((batch: LineBatch) => Promise<void>) | undefined
  private udp: UdpSocket | undefined
  private tcp: Server | undefined

  constructor(private readonly config: SyslogServerConfig) {
    this.stream = config.stream ?? SYSLOG_STREAM
    this.maxMessageBytes = config.max_message_bytes ?? 65536
    this.maxQueued = config.max_queued_messages ?? 100000
    this.maxBatch = config.max_batch_lines ?? 1000
    this.maxBatchBytes = config.max_batch_bytes ?? 262_144
    this.log = config.log ?? stderrLog
    this.now = config.now ?? Date.now
    this.senders = config.allowed_senders && senderList(config.allowed_senders)
  }

  counters(): SourceCounters {
    return { ...this.count }
  }

  /** Where the listeners are bound, once started (the port chosen for port 0). */
  addresses(): { udp?: AddressInfo; tcp?: AddressInfo } {
    return {
      ...(this.udp && { udp: this.udp.address() }),
      ...(this.tcp && { tcp: this.tcp.address() as AddressInfo }),
    }
  }

  async start(emit: (batch: LineBatch) => Promise<void>): Promise<void> {
    this.emit = emit
    if (this.config.udp) await this.listenUdp(this.config.udp)
    if (this.config.tcp) await this.listenTcp(this.config.tcp)
  }

  async stop(): Promise<void> {
    const udp = this.udp
    const tcp = this.tcp
    for (const connection of this.connections) connection.destroy()
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()))
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()))
    await this.pumping
  }

  private async listenUdp({ address = '0.0.0.0', port = 514 }: SyslogListen): Promise<void> {
    const socket = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' })
    socket.on('message', (datagram, remote) => {
      if (!this.allowed(remote.address)) return
      if (this.queue.length - this.queueHead >= this.maxQueued) {
        this.count.dropped++
        return
      }
      let message = datagram
      if (message.length > this.maxMessageBytes) {
        this.count.oversized++
        message = message.subarray(0, this.maxMessageBytes)
      }
      this.receive(message, remote.address)
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, address, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    socket.on('error', (error) => this.log('error', `syslog udp: ${error.message}`))
    this.udp = socket
  }

  private async listenTcp({ address = '0.0.0.0', port = 514 }: SyslogListen): Promise<void> {
    // A sender that crashed or lost its network never closes its connections: keepalive probes find
    // them dead and free their slots (max_connections, max_connections_per_sender), or after enough
    // reboots a sender would be refused its own new connection.
    const server = createServer({ keepAlive: true, keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS }, (connection) => this.accept(connection))
    server.maxConnections = this.config.max_connections ?? 1024
    server.on('drop', () => this.count.refused_connections++)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, address, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', (error) => this.log('error', `syslog tcp: ${error.message}`))
    this.tcp = server
  }

  private accept(connection: Socket): void {
    const remote = unmapIPv4(connection.remoteAddress ?? '')
    if (!this.allowed(remote)) {
      connection.destroy()
      return
    }
    const held = this.connectionsBySender.get(remote) ?? 0
    if (held >= (this.config.max_connections_per_sender ?? 64)) {
      this.count.refused_connections++
      connection.destroy()
      return
    }
    this.connectionsBySender.set(remote, held + 1)
    const decoder = new SyslogFrameDecoder(this.maxMessageBytes, this.count)
    this.connections.add(connection)
    if (this.paused) connection.pause()
    connection.on('data', (chunk) => {
      for (const message of decoder.push(chunk)) this.receive(message, remote)
    })
    connection.on('end', () => {
      const last = decoder.end()
      if (last) this.receive(last, remote)
      connection.end()
    })
    connection.on('error', () => this.count.connection_errors++)
    connection.on('close', () => {
      this.connections.delete(connection)
      const left = (this.connectionsBySender.get(remote) ?? 1) - 1
      if (left > 0) this.connectionsBySender.set(remote, left)
      else this.connectionsBySender.delete(remote)
    })
  }

  private allowed(address: string): boolean {
    if (!this.senders || this.senders.allows(address)) return true
    this.count.refused_senders++
    return false
  }

  private receive(message: Buffer, remoteAddress: string): void {
    const rendered = renderSyslogMessage(message, {
      remote_address: unmapIPv4(remoteAddress),
      received_at: this.now(),
      ...(this.config.time_zone !== undefined && { time_zone: this.config.time_zone }),
    })
    if (!rendered) {
      this.count.bad_frames++
      return
    }
    this.count.messages++
    this.queue.push(rendered)
    if (!this.paused && this.queue.length - this.queueHead >= this.maxQueued) this.setPaused(true)
    this.schedulePump()
  }

  private schedulePump(): void {
    if (this.pumping) return
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined
      if (this.queueHead < this.queue.length) this.schedulePump()
    })
  }

  /** Hands queued lines on, one batch per run of one host, each emit awaited. */
  private async pump(): Promise<void> {
    while (this.queueHead < this.queue.length) {
      const host = this.queue[this.queueHead]!.host
      const lines: Buffer[] = []
      let bytes = 0
      while (this.queueHead < this.queue.length && lines.length < this.maxBatch && this.queue[this.queueHead]!.host === host) {
        const line = this.queue[this.queueHead]!.line
        if (lines.length > 0 && bytes + line.length + 1 > this.maxBatchBytes) break
        bytes += line.length + 1
        lines.push(line)
        this.queueHead++
      }
      if (this.queueHead === this.queue.length) {
        this.queue = []
        this.queueHead = 0
      }
      try {
        await this.emit!({ stream: this.stream, host, lines, received_at: this.now() })
        this.count.batches++
      } catch (error) {
        // Syslog has no replay: the batch is lost, counted and logged, and the server goes on.
        this.count.emit_errors++
        this.log('error', `syslog: could not hand on ${lines.length} lines from ${host}: ${(error as Error).message}`)
      }
      if (this.paused && this.queue.length - this.queueHead <= this.maxQueued / 2) this.setPaused(false)
    }
  }

  private setPaused(paused: boolean): void {
    this.paused = paused
    for (const connection of this.connections) {
      if (paused) connection.pause()
      else connection.resume()
    }
  }
}

function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** Which senders a server hears. */
export interface SenderList {
  allows(address: string): boolean
}

/**
 * The senders a server accepts, from addresses and networks; throws naming the first entry that is
 * neither, so a typo is not a silently refused host. A sender is held by a network as ignoreip holds
 * an address (`contains`): the families stay apart, so an IPv6 network (`::/64`) holds no IPv4 sender,
 * and an IPv4-mapped entry (`::ffff:192.0.2.0/120`) is IPv4.
 */
export function senderList(entries: readonly string[]): SenderList {
  const networks = entries.map((entry) => {
    const network = parseAddress(entry)
    if (!network) throw new Error(`'${entry}' is not an address or network (e.g. 192.0.2.0/24, 2001:db8::/32)`)
    return network
  })
  return {
    allows(address) {
      // A link-local sender's zone (`fe80::1%eth0`) names an interface, not another address.
      const sender = parseAddress(address.replace(/%.*$/, ''))
      return sender !== null && sender.prefix === addressBits(sender.family) && networks.some((network) => contains(network, sender))
    },
  }
}
