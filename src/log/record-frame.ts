import { crc32 } from 'node:zlib'

/**
 * The on-disk form of one record. A frame is
 *   u32 bodyLength, u32 crc32(body), body
 * and the body is
 *   u8 version, u64 offset, u64 timestamp, i32 keyLength (-1 = null), key,
 *   u32 valueLength, value, u16 headerCount, then per header
 *   u16 nameLength, name, u32 valueLength, value (UTF-8).
 * The offset lives in the frame so that skipping a damaged frame never shifts
 * the offsets of the frames after it; the CRC is what tells a torn or damaged
 * frame from a good one. Integers are big-endian.
 */

export const FRAME_HEADER_BYTES = 8
const VERSION = 1
const FIXED_BODY_BYTES = 1 + 8 + 8 + 4 + 4 + 2
/** The smallest frame there can be; bounds how many records a file of a given size may hold. */
export const MIN_FRAME_BYTES = FRAME_HEADER_BYTES + FIXED_BODY_BYTES
const TWO_32 = 0x1_0000_0000

export interface FrameContent {
  key: Buffer | null
  value: Buffer
  headers: Record<string, string>
  timestamp: number
  offset: number
}

export type DecodeResult =
  | { status: 'ok'; frame: FrameContent; size: number }
  /** The buffer ends before the frame does; `size` is how many bytes the frame needs (header only when its length is unknown). */
  | { status: 'short'; size: number }
  | { status: 'corrupt'; reason: string }

/** The size of the frame encodeFrame would produce. */
export function frameBytes(key: Buffer | null, value: Buffer, headers: Record<string, string>): number {
  let bytes = FRAME_HEADER_BYTES + FIXED_BODY_BYTES + (key?.length ?? 0) + value.length
  for (const name of Object.keys(headers)) bytes += 2 + Buffer.byteLength(name) + 4 + Buffer.byteLength(headers[name]!)
  return bytes
}

export function encodeFrame(offset: number, timestamp: number, key: Buffer | null, value: Buffer, headers: Record<string, string>): Buffer {
  const names = Object.keys(headers)
  const bodyLength = frameBytes(key, value, headers) - FRAME_HEADER_BYTES
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength)
  let at = FRAME_HEADER_BYTES
  frame.writeUInt8(VERSION, at)
  at = writeU64(frame, offset, at + 1)
  at = writeU64(frame, timestamp, at)
  if (key === null) {
    at = frame.writeInt32BE(-1, at)
  } else {
    at = frame.writeInt32BE(key.length, at)
    at += key.copy(frame, at)
  }
  at = frame.writeUInt32BE(value.length, at)
  at += value.copy(frame, at)
  at = frame.writeUInt16BE(names.length, at)
  for (const name of names) {
    const n = Buffer.from(name)
    const v = Buffer.from(headers[name]!)
    at = frame.writeUInt16BE(n.length, at)
    at += n.copy(frame, at)
    at = frame.writeUInt32BE(v.length, at)
    at += v.copy(frame, at)
  }
  frame.writeUInt32BE(bodyLength, 0)
  frame.writeUInt32BE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4)
  return frame
}

/**
 * Decodes the frame starting at `at`. Keys and values are views into `buf`
 * (no copy: lines stay bytes from the log to the matcher). `maxBodyBytes`
 * rejects a length no writer could have produced, so a damaged length field
 * reads as corruption rather than as a request for gigabytes.
 */
export function decodeFrame(buf: Buffer, at: number, maxBodyBytes: number): DecodeResult {
  if (buf.length - at < FRAME_HEADER_BYTES) return { status: 'short', size: FRAME_HEADER_BYTES }
  const bodyLength = buf.readUInt32BE(at)
  if (bodyLength < FIXED_BODY_BYTES || bodyLength > maxBodyBytes) return { status: 'corrupt', reason: `implausible frame length ${bodyLength}` }
  const size = FRAME_HEADER_BYTES + bodyLength
  if (buf.length - at < size) return { status: 'short', size }
  const body = buf.subarray(at + FRAME_HEADER_BYTES, at + size)
  if (crc32(body) !== buf.readUInt32BE(at + 4)) return { status: 'corrupt', reason: 'CRC mismatch' }
  const frame = parseBody(body)
  return typeof frame === 'string' ? { status: 'corrupt', reason: frame } : { status: 'ok', frame, size }
}

/** Reads just the offset of a frame whose header starts at `at`, without checking it; for cheap resync candidates. */
export function peekOffset(buf: Buffer, at: number): number | undefined {
  if (buf.length - at < FRAME_HEADER_BYTES + 9 || buf[at + FRAME_HEADER_BYTES] !== VERSION) return undefined
  return readU64(buf, at + FRAME_HEADER_BYTES + 1)
}

function parseBody(body: Buffer): FrameContent | string {
  if (body[0] !== VERSION) return `unknown frame version ${body[0]}`
  let at = 1
  const offset = readU64(body, at)
  const timestamp = readU64(body, at + 8)
  at += 16
  const keyLength = body.readInt32BE(at)
  at += 4
  if (keyLength < -1 || at + Math.max(keyLength, 0) + 4 > body.length) return 'key overruns the frame'
  const key = keyLength === -1 ? null : body.subarray(at, at + keyLength)
  at += Math.max(keyLength, 0)
  const valueLength = body.readUInt32BE(at)
  at += 4
  if (at + valueLength + 2 > body.length) return 'value overruns the frame'
  const value = body.subarray(at, at + valueLength)
  at += valueLength
  const headerCount = body.readUInt16BE(at)
  at += 2
  const headers: Record<string, string> = {}
  for (let i = 0; i < headerCount; i++) {
    if (at + 2 > body.length) return 'header overruns the frame'
    const nameLength = body.readUInt16BE(at)
    at += 2
    if (at + nameLength + 4 > body.length) return 'header overruns the frame'
    const name = body.toString('utf8', at, at + nameLength)
    at += nameLength
    const valueLength = body.readUInt32BE(at)
    at += 4
    if (at + valueLength > body.length) return 'header overruns the frame'
    headers[name] = body.toString('utf8', at, at + valueLength)
    at += valueLength
  }
  if (at !== body.length) return 'trailing bytes after the headers'
  return { key, value, headers, timestamp, offset }
}

function writeU64(buf: Buffer, n: number, at: number): number {
  buf.writeUInt32BE(Math.floor(n / TWO_32), at)
  return buf.writeUInt32BE(n % TWO_32, at + 4)
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4)
}
