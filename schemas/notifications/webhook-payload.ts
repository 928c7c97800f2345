import { Type, type Static } from '@sinclair/typebox'
import { BanIssued } from '../events/ban-issued.js'
import { BanLifted } from '../events/ban-lifted.js'

const host = Type.String({ minLength: 1, description: 'The host whose actuator sent the notification (the decision was applied there).' })

/** The body of a webhook POST for a ban: the BanIssued decision's fields, and the sending host. */
export const WebhookBanPayload = Type.Object({ ...BanIssued.properties, host }, {
  $id: 'banstream.WebhookBanPayload.v1', additionalProperties: false,
  description: 'A jail banned an address (type BanIssued); sent by the webhook action of the host named in `host`.',
})
export type WebhookBanPayload = Static<typeof WebhookBanPayload>

/** The body of a webhook POST for the end of a ban: the BanLifted decision's fields, and the sending host. */
export const WebhookUnbanPayload = Type.Object({ ...BanLifted.properties, host }, {
  $id: 'banstream.WebhookUnbanPayload.v1', additionalProperties: false,
  description: 'A ban ended (type BanLifted); sent by the webhook action of the host named in `host`.',
})
export type WebhookUnbanPayload = Static<typeof WebhookUnbanPayload>

/**
 * The JSON body of every POST the webhook action sends, told apart by `type`.
 * A change of this shape gets a new `$id` version.
 */
export const WebhookPayload = Type.Union([WebhookBanPayload, WebhookUnbanPayload], {
  $id: 'banstream.WebhookPayload.v1', description: 'A ban or the end of a ban, as the webhook action posts it.',
})
export type WebhookPayload = Static<typeof WebhookPayload>
