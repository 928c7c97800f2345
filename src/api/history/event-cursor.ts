import { ControlError } from '../control/control-error.js'

/** Where a page of events ended: the last event's time and id, and the order the pages run in. */
export interface EventCursor {
  readonly ms: number
  readonly eventId: string
  readonly order: 'asc' | 'desc'
}

const CURSOR_TEXT = /^v1\.(-?\d{1,15})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(asc|desc)$/

/** The opaque text of a cursor: base64url, so it travels in a query string as is. */
export function encodeCursor(cursor: EventCursor): string {
  return Buffer.from(`v1.${cursor.ms}.${cursor.eventId}.${cursor.order}`, 'utf8').toString('base64url')
}

/** The cursor a `cursor` parameter holds, or a 400 naming it; it must have been made for the same order. */
export function decodeCursor(text: string, order: 'asc' | 'desc'): EventCursor {
  const field = 'querystring/cursor'
  const match = /^[A-Za-z0-9_-]+$/.test(text) ? CURSOR_TEXT.exec(Buffer.from(text, 'base64url').toString('utf8')) : null
  if (!match) throw new ControlError(400, 'BANSTREAM_ERR_INVALID_CURSOR', `${field}: not a cursor this API gave`, field)
  if (match[3] !== order) {
    throw new ControlError(400, 'BANSTREAM_ERR_INVALID_CURSOR', `${field}: the cursor is of order=${match[3]}, not ${order}`, field)
  }
  return { ms: Number(match[1]), eventId: match[2]!, order }
}
