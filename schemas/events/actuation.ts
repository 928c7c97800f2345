import { Type, type Static } from '@sinclair/typebox'

/**
 * What an actuator did with a decision on its host: the ban or unban as it
 * reached (or failed to reach) the firewall. One per decision, host and
 * action; the `actuations` topic is keyed by host.
 */
export const Actuation = Type.Object({
  type: Type.Literal('Actuation'),
  event_id: Type.String({ description: 'Deterministic from the decision, host and action; the dedup key.' }),
  decision_event_id: Type.String({ description: 'The BanIssued or BanLifted this carries out.' }),
  host: Type.String({ minLength: 1, description: 'The host whose actuator acted.' }),
  jail: Type.String({ minLength: 1 }),
  ip: Type.String({ description: 'The address or network, as in the decision.' }),
  backend: Type.String({ description: "The actuator backend: 'nftables', 'ipset', 'exec', 'webhook', 'mail', or 'dry-run'." }),
  action: Type.String({ description: 'The jail action as jail.conf names it, e.g. nftables[name=sshd, port="ssh"].' }),
  outcome: Type.Union([Type.Literal('applied'), Type.Literal('removed'), Type.Literal('failed'), Type.Literal('skipped'), Type.Literal('dry-run')], {
    description: "'applied': the ban is in force on the host; 'removed': the unban is; 'failed': see error; 'skipped': a ban already over when it reached the host; 'dry-run': logged, not applied.",
  }),
  error: Type.Optional(Type.String({ description: 'Why it failed, as the backend reported it.' })),
  occurred_at: Type.String({ format: 'date-time', description: 'When the actuator acted (its wall clock).' }),
}, { $id: 'banstream.Actuation.v1', additionalProperties: false, description: 'An actuator carried out a decision, or failed to.' })
export type Actuation = Static<typeof Actuation>
