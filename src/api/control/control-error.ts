import { STATUS_CODES } from 'node:http'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ErrorResponse } from '../../../schemas/api/control.js'

export type ControlErrorCode =
  | 'BANSTREAM_ERR_INVALID_IP'
  | 'BANSTREAM_ERR_INVALID_JAIL'
  | 'BANSTREAM_ERR_INVALID_REQUEST'
  | 'BANSTREAM_ERR_MALFORMED_BODY'
  | 'BANSTREAM_ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'BANSTREAM_ERR_UNAUTHORIZED'
  | 'BANSTREAM_ERR_UNKNOWN_JAIL'
  | 'BANSTREAM_ERR_NOT_FOUND'
  | 'BANSTREAM_ERR_BAD_URL'
  | 'BANSTREAM_ERR_URI_TOO_LONG'
  | 'BANSTREAM_ERR_BAD_REQUEST'
  | 'BANSTREAM_ERR_INTERNAL'
  | 'BANSTREAM_ERR_FORBIDDEN'
  | 'BANSTREAM_ERR_RATE_LIMITED'
  | 'BANSTREAM_ERR_INVALID_TIME'
  | 'BANSTREAM_ERR_INVALID_CURSOR'
  | 'BANSTREAM_ERR_NO_HISTORY'
  | 'BANSTREAM_ERR_STORE_UNAVAILABLE'
  | 'BANSTREAM_ERR_NO_REPLAY'
  | 'BANSTREAM_ERR_REPLAY_QUEUE_FULL'
  | 'BANSTREAM_ERR_DECISION_TIMEOUT'

/** Longer than any valid jail name or address, so those reach the schema and get a field-naming 400. */
export const MAX_PARAM_LENGTH = 256

/** An answer the API gives on purpose: a status, a stable code, and the field at fault if any. */
export class ControlError extends Error {
  override readonly name = 'ControlError'
  constructor(readonly statusCode: number, readonly code: ControlErrorCode, message: string, readonly field?: string) {
    super(message)
  }
}

export function unknownJail(jail: string): ControlError {
  return new ControlError(404, 'BANSTREAM_ERR_UNKNOWN_JAIL', `jail '${jail}' does not exist`, 'params/jail')
}

export function errorBody(statusCode: number, code: ControlErrorCode, message: string, field?: string): ErrorResponse {
  const body: ErrorResponse = { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message }
  if (field !== undefined) body.field = field
  return body
}

interface SchemaIssue {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
}

// Fields holding addresses: any rule they break (length, type, format) makes an invalid address.
const ADDRESS_FIELD = /^(body\/ips\/\d+|params\/ip|querystring\/ip(\/\d+)?)$/

/** Turns Ajv's issues into a coded 400 naming the field as `<part>/<path>`. */
function fromValidation(issues: SchemaIssue[], part: string): ErrorResponse {
  // A union (the `ip` query) reports each branch; the deepest path points at the offending item.
  const issue = issues.reduce((best, i) => (i.instancePath.length > best.instancePath.length ? i : best))
  const leaf = typeof issue.params['missingProperty'] === 'string' ? `/${issue.params['missingProperty']}`
    : typeof issue.params['additionalProperty'] === 'string' ? `/${issue.params['additionalProperty']}` : ''
  const field = `${part}${issue.instancePath}${leaf}`
  if (ADDRESS_FIELD.test(field) && issue.keyword !== 'required') {
    return errorBody(400, 'BANSTREAM_ERR_INVALID_IP', `${field}: not an IP address or CIDR network`, field)
  }
  if (field === 'params/jail') {
    return errorBody(400, 'BANSTREAM_ERR_INVALID_JAIL', `${field}: a jail name holds only letters, digits, '_', '.' and '-'`, field)
  }
  const why = issue.keyword === 'additionalProperties' ? 'unknown field' : issue.message ?? issue.keyword
  return errorBody(400, 'BANSTREAM_ERR_INVALID_REQUEST', `${field}: ${why}`, field)
}

/** Maps Fastify's own errors (FST_ERR_*) to BANSTREAM_ERR_*; hides the detail of unexpected failures. */
export function controlErrorHandler(error: FastifyError | ControlError, request: FastifyRequest, reply: FastifyReply): void {
  let body: ErrorResponse
  if (error instanceof ControlError) {
    body = errorBody(error.statusCode, error.code, error.message, error.field)
  } else if (error.validation) {
    body = fromValidation(error.validation as SchemaIssue[], error.validationContext ?? 'request')
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    body = errorBody(414, 'BANSTREAM_ERR_URI_TOO_LONG', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`)
  } else if (error.code === 'FST_ERR_BAD_URL') {
    body = errorBody(400, 'BANSTREAM_ERR_BAD_URL', 'the URL does not decode (malformed percent-encoding)')
  } else if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    body = errorBody(415, 'BANSTREAM_ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
  } else if (error.code?.startsWith('FST_ERR_CTP_')) {
    const status = error.statusCode ?? 400
    body = errorBody(status, 'BANSTREAM_ERR_MALFORMED_BODY', error.message)
  } else if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    body = errorBody(error.statusCode, 'BANSTREAM_ERR_BAD_REQUEST', error.message)
  } else {
    request.log.error({ err: error }, 'control API request failed')
    body = errorBody(500, 'BANSTREAM_ERR_INTERNAL', 'internal error; see the banstream log')
  }
  void reply.code(body.statusCode).send(body)
}
