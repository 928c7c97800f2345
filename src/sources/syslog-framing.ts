const LF = 0x0a
const SP = 0x20
// The longest octet count worth reading as one: ten digits is past any sane message size.
const MAX_COUNT_DIGITS = 10

/** What a frame decoder met besides whole messages. */
export interface FramingCounters {
  /** Messages longer than the limit, cut to it. */
  oversized: number
  /** Frames that cannot be a message: an octet count of 0, or a connection closing inside an octet-counted frame. */
  bad_frames: number
}

/**
 * Splits a syslog TCP stream into messages per RFC 6587, deciding for every
 * frame as rsyslog does: a frame starting with a digit and `digits SP` is
 * octet-counted, anything else runs to the next LF (non-transparent framing).
 * Messages over `max_message_bytes` are cut to it and the rest skipped.
 */
export class SyslogFrameDecoder {
  private buffer: Buffer = Buffer.alloc(0)
  /** Bytes still to skip: the rest of an oversized message. */
  private skipBytes = 0
  private skipToLf = false
  /**
   * What the buffered frame waits for: this many bytes in all, or (`lf`) a newline. Chunks that
   * cannot complete it are parked, not joined: a client trickling a 60 KB message a byte at a time
   * made each byte copy all before it (0.3 s of CPU for one message).
   */
  private wait: { bytes: number; lf: boolean } | undefined
  private parked: Buffer[] = []
  private parkedBytes = 0

  constructor(
    private readonly maxMessageBytes: number,
    private readonly counters: FramingCounters,
  ) {}

  push(chunk: Buffer): Buffer[] {
    if (this.wait !== undefined) {
      this.parked.push(chunk)
      this.parkedBytes += chunk.length
      if (this.buffer.length + this.parkedBytes < this.wait.bytes && !(this.wait.lf && chunk.includes(LF))) return []
      this.unpark()
    } else {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    }
    const messages: Buffer[] = []
    for (;;) {
      if (!this.skip()) break
      const message = this.next()
      if (message === undefined) break
      if (message.length > 0) messages.push(message)
    }
    return messages
  }

  /** At the end of the connection: the last unterminated LF-framed message, if any. */
  end(): Buffer | undefined {
    this.unpark()
    const rest = this.buffer
    this.buffer = Buffer.alloc(0)
    if (rest.length === 0 || this.skipToLf || this.skipBytes > 0) return undefined
    if (this.countedFrameLength(rest) !== undefined) {
      this.counters.bad_frames++
      return undefined
    }
    return rest.subarray(0, this.maxMessageBytes)
  }

  private unpark(): void {
    if (this.parked.length > 0) this.buffer = Buffer.concat([this.buffer, ...this.parked])
    this.parked = []
    this.parkedBytes = 0
    this.wait = undefined
  }

  /** Drops bytes of a message already cut; false while more input is needed to finish that. */
  private skip(): boolean {
    if (this.skipBytes > 0) {
      const n = Math.min(this.skipBytes, this.buffer.length)
      this.buffer = this.buffer.subarray(n)
      this.skipBytes -= n
      return this.skipBytes === 0
    }
    if (this.skipToLf) {
      const lf = this.buffer.indexOf(LF)
      if (lf === -1) {
        this.buffer = Buffer.alloc(0)
        return false
      }
      this.buffer = this.buffer.subarray(lf + 1)
      this.skipToLf = false
    }
    return true
  }

  /** The next message (empty for a frame to ignore), or undefined when the buffer holds no whole frame. */
  private next(): Buffer | undefined {
    const buffer = this.buffer
    if (buffer.length === 0) return undefined
    const counted = this.countedFrameLength(buffer)
    if (counted === null) return undefined
    if (counted !== undefined) {
      const { header, length } = counted
      if (length === 0) {
        this.counters.bad_frames++
        this.buffer = buffer.subarray(header)
        return Buffer.alloc(0)
      }
      if (length > this.maxMessageBytes) {
        if (buffer.length < header + this.maxMessageBytes) return this.waitFor(header + this.maxMessageBytes, false)
        this.counters.oversized++
        this.skipBytes = length - this.maxMessageBytes
        this.buffer = buffer.subarray(header + this.maxMessageBytes)
        return buffer.subarray(header, header + this.maxMessageBytes)
      }
      if (buffer.length < header + length) return this.waitFor(header + length, false)
      this.buffer = buffer.subarray(header + length)
      return buffer.subarray(header, header + length)
    }
    const lf = buffer.indexOf(LF)
    if (lf === -1) {
      if (buffer.length <= this.maxMessageBytes) return this.waitFor(this.maxMessageBytes + 1, true)
      this.counters.oversized++
      this.skipToLf = true
      this.buffer = Buffer.alloc(0)
      return buffer.subarray(0, this.maxMessageBytes)
    }
    this.buffer = buffer.subarray(lf + 1)
    const message = buffer.subarray(0, lf)
    if (message.length > this.maxMessageBytes) {
      this.counters.oversized++
      return message.subarray(0, this.maxMessageBytes)
    }
    return message.length === 1 && message[0] === 0x0d ? Buffer.alloc(0) : message
  }

  private waitFor(bytes: number, lf: boolean): undefined {
    this.wait = { bytes, lf }
    return undefined
  }

  /**
   * For an octet-counted frame: its header length and message length;
   * undefined when the frame is LF-framed; null when too few bytes have come to tell.
   */
  private countedFrameLength(buffer: Buffer): { header: number; length: number } | undefined | null {
    let i = 0
    while (i < buffer.length && i <= MAX_COUNT_DIGITS && buffer[i]! >= 0x30 && buffer[i]! <= 0x39) i++
    if (i === 0 || i > MAX_COUNT_DIGITS) return undefined
    if (i === buffer.length) return null
    if (buffer[i] !== SP) return undefined
    return { header: i + 1, length: Number(buffer.toString('latin1', 0, i)) }
  }
}
