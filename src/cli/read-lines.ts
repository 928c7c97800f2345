import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'

const LF = 0x0a
const CR = 0x0d

/**
 * Yields the lines of a file (or stdin for '-') as Buffers without their terminators, in chunks of
 * lines so a consumer's per-line cost is not dominated by async iteration. A final line without a
 * newline is yielded too. Bytes are not decoded: invalid UTF-8 stays as it is.
 */
export async function* readLineChunks(path: string): AsyncGenerator<Buffer[]> {
  const input: Readable = path === '-' ? process.stdin : createReadStream(path, { highWaterMark: 1 << 20 })
  let rest: Buffer | undefined
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk
    const lines: Buffer[] = []
    const start = splitLines(buf, lines)
    rest = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined
    if (lines.length > 0) yield lines
  }
  if (rest && rest.length > 0) yield [trimCr(rest)]
}

/**
 * Appends the complete lines of `buf` to `lines`; returns where the incomplete rest begins. A function
 * of its own: the generator resumes after every chunk, and V8 would compile its loop anew each time.
 */
function splitLines(buf: Buffer, lines: Buffer[]): number {
  let start = 0
  for (let nl = buf.indexOf(LF); nl >= 0; nl = buf.indexOf(LF, start)) {
    lines.push(trimCr(buf.subarray(start, nl)))
    start = nl + 1
  }
  return start
}

function trimCr(line: Buffer): Buffer {
  return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line
}
