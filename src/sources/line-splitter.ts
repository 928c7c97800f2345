const LF = 0x0a
const CR = 0x0d

/**
 * Cuts a byte stream into lines at LF (a CR before it is dropped too). A line
 * longer than `max_line_bytes` is cut to that length and the rest of it, up to
 * its newline, is skipped: one oversized line costs bounded memory and still
 * reaches the matcher by its head, where the date and the host usually are.
 * An incomplete last line is held until its newline arrives or `flush()`.
 */
export class LineSplitter {
  private held: Buffer[] = []
  private heldBytes = 0
  private skipping = false

  constructor(
    private readonly maxLineBytes: number,
    private readonly onOversized: () => void,
  ) {}

  /** Bytes of an incomplete line held back; a resume offset must not count them. */
  get pending(): number {
    return this.heldBytes
  }

  /** The complete lines in `chunk` (subarrays of it where possible: hand in a buffer that is not reused). */
  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = []
    let start = 0
    while (start < chunk.length) {
      const newline = chunk.indexOf(LF, start)
      if (newline === -1) {
        this.hold(chunk.subarray(start), lines)
        break
      }
      this.complete(chunk.subarray(start, newline), lines)
      start = newline + 1
    }
    return lines
  }

  /** The held incomplete line as a line of its own (its file rotated away), or undefined. */
  flush(): Buffer | undefined {
    const skipping = this.skipping
    const line = this.heldBytes > 0 ? this.take(Buffer.alloc(0)) : undefined
    this.reset()
    if (skipping || line === undefined) return undefined
    return line.subarray(0, this.maxLineBytes)
  }

  /** Treats what comes up to the next LF as the rest of a line already seen (reading began inside it). */
  skipToNextLine(): void {
    this.reset()
    this.skipping = true
  }

  reset(): void {
    this.held = []
    this.heldBytes = 0
    this.skipping = false
  }

  private hold(part: Buffer, lines: Buffer[]): void {
    if (this.skipping || part.length === 0) return
    // One byte of slack: a line of exactly the limit may be waiting for the LF after its CR.
    if (this.heldBytes + part.length <= this.maxLineBytes + 1) {
      this.held.push(part)
      this.heldBytes += part.length
      return
    }
    const head = this.take(part)
    lines.push(head.subarray(0, this.maxLineBytes))
    this.onOversized()
    this.skipping = true
  }

  private complete(tail: Buffer, lines: Buffer[]): void {
    if (this.skipping) {
      this.skipping = false
      return
    }
    let line = this.take(tail)
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
    if (line.length > this.maxLineBytes) {
      lines.push(line.subarray(0, this.maxLineBytes))
      this.onOversized()
      return
    }
    lines.push(line)
  }

  private take(tail: Buffer): Buffer {
    const line = this.heldBytes === 0 ? tail : Buffer.concat([...this.held, tail])
    this.held = []
    this.heldBytes = 0
    return line
  }
}
