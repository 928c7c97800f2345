import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'

const LF = 0x0a
const CR = 0x0d

/**
 * Yields a file (or stdin for '-') in blocks of whole lines: each block ends with a newline, except a
 * final line without one. Lines are cut out of a block one at a time by `LineCursor`, so only the line
 * being read is alive: a block's thousands of line Buffers made up front would each survive a young
 * collection and be copied by it. Bytes are not decoded: invalid UTF-8 stays as it is.
 */
export function readLineBlocks(path: string): AsyncGenerator<Buffer> {
  const input: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 })
  return lineBlocks(input as AsyncIterable<Buffer>)
}

/** readLineBlocks of any sequence of chunks. */
export async function* lineBlocks(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // The parts of the line the chunks so far end inside, joined once its newline comes: a line
  // longer than many chunks is copied once, not once a chunk.
  let held: Buffer[] = []
  for await (const chunk of chunks) {
    let start = 0
    if (held.length > 0) {
      // Only the line the last chunk began is joined, not the whole chunk copied behind it.
      const nl = chunk.indexOf(LF)
      if (nl < 0) {
        held.push(chunk)
        continue
      }
      yield Buffer.concat([...held, chunk.subarray(0, nl + 1)])
      held = []
      start = nl + 1
    }
    const end = chunk.lastIndexOf(LF) + 1
    if (end > start) yield chunk.subarray(start, end)
    // A copy: the rest of a line must not keep its whole chunk alive.
    if (end < chunk.length) held.push(Buffer.from(chunk.subarray(end)))
  }
  if (held.length > 0) yield Buffer.concat(held)
}

/** Reads the lines of one block, without their terminators (LF or CRLF). */
export class LineCursor {
  private start = 0

  constructor(private readonly block: Buffer) {}

  /** The next line, or undefined past the last. */
  next(): Buffer | undefined {
    const { block, start } = this
    if (start >= block.length) return undefined
    let nl = block.indexOf(LF, start)
    if (nl < 0) nl = block.length
    this.start = nl + 1
    const end = nl > start && block[nl - 1] === CR ? nl - 1 : nl
    return block.subarray(start, end)
  }
}
