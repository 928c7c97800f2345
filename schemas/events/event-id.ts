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
  for (const part of parts) {
    const piece = String(part)
    // Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
    text += `${piece.length}:${piece};`
  }
  // The one-shot hash: a Hash object per id cost as much as all the rest of an event.
  const bytes = hash('sha256', text, 'buffer')
  bytes[6] = (bytes[6]! & 0x0f) | 0x80
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex', 0, 16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

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
