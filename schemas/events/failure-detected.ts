import { Type, type Static } from '@sinclair/typebox'

/**
 * A filter matched a log line (or a multi-line group) that reports a failure of
 * one address. Emitted by the match stage, one per jail whose filter matched;
 * keyed by address on the `failures` topic and counted by streams/decide.ts.
 */
export const FailureDetected = Type.Object({
  type: Type.Literal('FailureDetected'),
  event_id: Type.String({ description: 'Deterministic from the input position (topic, partition, offset, jail); the dedup key.' }),
  jail: Type.String({ minLength: 1, description: 'The jail whose filter matched.' }),
  ip: Type.String({ minLength: 2, maxLength: 64, description: 'The failing address: IPv4, IPv6, or a CIDR network, as captured by <HOST>/<ADDR>/<CIDR>.' }),
  host: Type.String({ description: 'The source host whose log had the line.' }),
  user: Type.Optional(Type.String({ description: 'The user name captured by <F-USER>, when the filter has one.' })),
  fid: Type.Optional(Type.String({ description: 'The failure id captured by <F-ID>: failures are then counted per id instead of per address, as in fail2ban.' })),
  matches: Type.Array(Type.String(), { description: 'The log lines of this failure (several for multi-line filters).' }),
  occurred_at: Type.String({ format: 'date-time', description: 'Event time, from the log line (not the time it was read).' }),
  source: Type.String({ description: 'Where the line was read: a file path, a journald match, or a syslog listener.' }),
  regex_index: Type.Integer({ minimum: 0, description: 'Which failregex of the filter matched, counting from 0 (fail2ban-regex shows the same index).' }),
  success: Type.Optional(Type.Boolean({ description: 'True when the line reports a success rather than a failure (<F-NOFAIL>, a gained multi-line match): never counted; with reset_on_success it clears the count of its address.' })),
  backlog: Type.Optional(Type.Boolean({ description: 'True when the line was read from what a file already held at start rather than tailed live: such lines older than findtime are ignored, as fail2ban ignores them at start.' })),
}, { $id: 'banstream.FailureDetected.v1', additionalProperties: false, description: 'A failure of one address found in a log.' })
export type FailureDetected = Static<typeof FailureDetected>
