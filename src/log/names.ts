import { LogError } from './log-error.js'

/** Kafka's rule for topic names, which also makes them safe as directory names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/

export function checkTopicName(topic: string): void {
  if (!TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw new LogError('BANSTREAM_ERR_LOG_TOPIC_NAME', `invalid topic name ${JSON.stringify(topic)}: use 1-249 of a-z A-Z 0-9 . _ - (not "." or "..")`)
  }
}

/**
 * A file name for an arbitrary string such as a consumer group: every byte
 * outside [A-Za-z0-9_-] is written as %XX, so "." and "/" can never make a
 * path and distinct names stay distinct.
 */
export function fileSafeName(name: string): string {
  if (name.length === 0) throw new LogError('BANSTREAM_ERR_LOG_GROUP_NAME', 'a consumer group name must not be empty')
  let out = ''
  for (const byte of Buffer.from(name)) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
