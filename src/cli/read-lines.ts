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
  let rest: Buffer | undefined
  for await (const chunk of chunks) {
    let start = 0
    if (rest !== undefined) {
      // Only the line the last chunk began is joined, not the whole chunk copied behind it.
      const nl = chunk.indexOf(LF)
      if (nl < 0) {
        rest = Buffer.concat([rest, chunk])
        continue
      }
      yield Buffer.concat([rest, chunk.subarray(0, nl + 1)])
      start = nl + 1
    }
    const end = chunk.lastIndexOf(LF) + 1
    if (end > start) yield chunk.subarray(start, end)
    // A copy: the rest of a line must not keep its whole chunk alive.
    rest = end < chunk.length ? Buffer.from(chunk.subarray(end)) : undefined
  }
  if (rest !== undefined && rest.length > 0) yield rest
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
