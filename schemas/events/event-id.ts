import { hash } from 'node:crypto'

/**
 * A deterministic event id: the same parts always give the same id, so a
 * redelivered input yields the same event and every consumer can drop the
 * duplicate. Parts name the input position (topic, partition, offset) and
 * whatever distinguishes several events made from one input (jail, kind).
 *
 * The id is shaped as a UUID (version 8, "custom") so that ClickHouse can store
 * it in a UUID column; its bits are the first 122 bits of a SHA-256.
 */
export function eventId(...parts: ReadonlyArray<string | number | bigint>): string {
  // One update of the whole text: each update is a call into the hash's native code, which cost
  // more than the hashing of these few bytes.
  let text = ''
  for (let i = 0; i < parts.length; i++) {
    const piece = String(parts[i])
    // Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
    text += piece.length + ':' + piece + ';'
  }
  // The one-shot hash, as hex text: a Hash object per id, or a Buffer to set the version and variant
  // bits in and print, cost as much again as the hash (an id is made for every failure).
  const hex = hash('sha256', text, 'hex')
  // Version 8 in the 13th digit; the variant's top bits 10 in the 17th (its low two bits are the hash's).
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${VARIANT_DIGITS[parseInt(hex[16]!, 16) & 3]}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

const VARIANT_DIGITS = '89ab'

/** The id of an event made from a record of a topic: the record's position names it. */
export function recordEventId(topic: string, partition: number, offset: number | bigint | string, ...more: ReadonlyArray<string | number>): string {
  return eventId(topic, partition, offset, ...more)
}

/**
 * A number in [0, 1) drawn from an event id: replaying the event draws the same
 * number, where fail2ban would draw a new random one.
 */
export function uniformFromId(id: string): number {
  return hash('sha256', id, 'buffer').readUIntBE(0, 6) / 2 ** 48
}
