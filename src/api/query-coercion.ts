import type { TObject } from '@sinclair/typebox'
import type { preValidationAsyncHookHandler } from 'fastify'

/**
 * A query string carries text only, and the API's validator does not coerce
 * (a body's `"true"` must stay an error). This hook turns the query fields a
 * route declares as integer or boolean into numbers and booleans when their
 * text is exactly one, before validation; any other text stays text, so the
 * schema rejects it naming the field.
 */
export function coerceQuery(schema: TObject): preValidationAsyncHookHandler {
  const integers = new Set<string>()
  const booleans = new Set<string>()
  for (const [name, field] of Object.entries(schema.properties)) {
    if (field.type === 'integer') integers.add(name)
    if (field.type === 'boolean') booleans.add(name)
  }
  return async (request) => {
    const query = request.query as Record<string, unknown>
    for (const [name, value] of Object.entries(query)) {
      if (typeof value !== 'string') continue
      if (integers.has(name) && /^-?\d{1,15}$/.test(value)) query[name] = Number(value)
      else if (booleans.has(name) && (value === 'true' || value === 'false')) query[name] = value === 'true'
    }
  }
}
