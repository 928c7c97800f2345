import { Type, type Static } from '@sinclair/typebox'

/**
 * One raw log line of the `lines` topic as the optional `lines` table keeps
 * it, so that replay can read what the sources read. Its place in the topic
 * (partition, offset, line_index) is its identity: a redelivered record
 * gives the same rows, which collapse on merge.
 */
export const StoredLine = Type.Object({
  stream: Type.String({ description: 'What jails select on: the file path, journald, or syslog.' }),
  host: Type.String({ description: 'The source host whose log had the line.' }),
  received_at: Type.String({ format: 'date-time', description: 'When the source read the line (wall clock).' }),
  partition: Type.Integer({ minimum: 0, description: 'The lines topic partition of the record that carried the line.' }),
  offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The offset of that record.' }),
  line_index: Type.Integer({ minimum: 0, description: 'The place of the line in its record, counting from 0.' }),
  line: Type.String({ description: 'The line as read, without its terminator.' }),
  occurred_at: Type.Optional(Type.String({ format: 'date-time', description: 'Event time where the source knew it better than the text (the journal\'s timestamp).' })),
  backlog: Type.Optional(Type.Boolean({ description: 'True when the line was already in its file when banstream started.' })),
}, { $id: 'banstream.StoredLine.v1', additionalProperties: false })
export type StoredLine = Static<typeof StoredLine>
