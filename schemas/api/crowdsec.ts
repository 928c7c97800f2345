import { Type, type Static } from '@sinclair/typebox'
import { AddressText } from './control.js'

/**
 * CrowdSec's Local API, the part its bouncers pull (`/v1/decisions/stream`,
 * `/v1/decisions`): banstream's active bans as CrowdSec decisions, so that
 * CrowdSec's bouncers enforce them unchanged. Field names and shapes are
 * CrowdSec's, not banstream's.
 */

export const CrowdsecDecision = Type.Object({
  id: Type.Integer({ minimum: 1, description: 'Stable for one ban: derived from the BanIssued event id.' }),
  origin: Type.Literal('banstream'),
  type: Type.Literal('ban'),
  scope: Type.Union([Type.Literal('Ip'), Type.Literal('Range')], { description: "'Ip' for one address, 'Range' for a CIDR network." }),
  value: Type.String({ description: 'The address or network.' }),
  duration: Type.String({ description: 'Time left, as a Go duration (`3h59m50s`); negative for a deleted decision whose ban has ended.' }),
  scenario: Type.String({ description: '`banstream/<jail>`.' }),
}, { additionalProperties: false, description: "A decision as CrowdSec's Local API gives it." })
export type CrowdsecDecision = Static<typeof CrowdsecDecision>

const CommaList = (description: string) => Type.Optional(Type.String({ maxLength: 1024, description }))

const Filters = {
  origins: CommaList('Comma-separated origins; only `banstream` decisions exist.'),
  scenarios_containing: CommaList('Comma-separated words: keep decisions whose scenario contains one of them.'),
  scenarios_not_containing: CommaList('Comma-separated words: drop decisions whose scenario contains one of them.'),
}

export const DecisionStreamQuery = Type.Object({
  startup: Type.Optional(Type.Boolean({ description: 'true: every active decision, as `new` (a bouncer starting); otherwise what changed since this bouncer last pulled.' })),
  scopes: CommaList('Comma-separated scopes to send (`ip`, `range`; case-insensitive); default `ip`, as CrowdSec.'),
  ...Filters,
}, { additionalProperties: false })
export type DecisionStreamQuery = Static<typeof DecisionStreamQuery>

export const DecisionStream = Type.Object({
  new: Type.Union([Type.Array(CrowdsecDecision), Type.Null()]),
  deleted: Type.Union([Type.Array(CrowdsecDecision), Type.Null()]),
}, { $id: 'crowdsec.DecisionsStreamResponse', additionalProperties: false })
export type DecisionStream = Static<typeof DecisionStream>

export const DecisionsQuery = Type.Object({
  ip: Type.Optional({ ...AddressText, description: 'Decisions on this address (on a range holding it too, with contains, the default).' }),
  range: Type.Optional({ ...AddressText, description: 'Decisions on this network (or on one holding it, with contains).' }),
  scope: Type.Optional(Type.String({ maxLength: 32, description: '`Ip` or `Range` (case-insensitive).' })),
  value: Type.Optional(Type.String({ maxLength: 64, description: 'The exact value of the decision.' })),
  type: Type.Optional(Type.String({ maxLength: 32, description: 'Only `ban` decisions exist.' })),
  contains: Type.Optional(Type.Boolean({ description: 'With ip/range: also decisions on networks holding it (default true).' })),
  ...Filters,
}, { additionalProperties: false })
export type DecisionsQuery = Static<typeof DecisionsQuery>

export const DecisionList = Type.Union([Type.Array(CrowdsecDecision), Type.Null()], {
  $id: 'crowdsec.GetDecisionsResponse', description: 'The matching decisions; null when there is none, as CrowdSec answers.',
})
export type DecisionList = Static<typeof DecisionList>
