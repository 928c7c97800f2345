import type { FastifyReply, FastifyRequest, preParsingAsyncHookHandler } from 'fastify'
import { ControlError } from '../control/control-error.js'
import { roleAllows, type Permission, type Principal, type SecretRing } from './api-token.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route asks of the caller; default `read` for GET/HEAD, `operate` otherwise. */
    permission?: Permission
    /** The route also takes a CrowdSec bouncer key in `X-Api-Key`. */
    bouncerKey?: boolean
  }
  interface FastifyRequest {
    /** Who made the request, set by the authentication hook. */
    principal?: Principal
  }
}

/** The credentials the API accepts; a ring left undefined accepts nothing of its kind. */
export interface Credentials {
  readonly tokens: SecretRing<Principal> | undefined
  readonly bouncerKeys: SecretRing<Principal> | undefined
}

const ANONYMOUS: Principal = { kind: 'anonymous', role: undefined, id: 'anonymous' }
const BEARER = /^Bearer +(\S+) *$/i

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The principal of a request's credentials, without judging the route: for rate-limit keys. */
export function identify(request: FastifyRequest, credentials: Credentials): Principal | undefined {
  const key = header(request, 'x-api-key')
  if (key !== undefined) return credentials.bouncerKeys?.match(key)
  const bearer = BEARER.exec(header(request, 'authorization') ?? '')
  return bearer ? credentials.tokens?.match(bearer[1]!) : undefined
}

function permissionOf(request: FastifyRequest): Permission {
  const configured = request.routeOptions.config.permission
  if (configured !== undefined) return configured
  return request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'operate'
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Whether `host` (a Host header or a URL's host, with or without a port) names this machine's loopback. */
function isLoopbackHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!
  return LOOPBACK_NAMES.has(name.toLowerCase())
}

/**
 * The open loopback API (no tokens) answers local programs, not web pages the
 * user's browser runs: a page cannot add a token, but it can send a form-like
 * POST to 127.0.0.1 (its Origin says where it comes from), or rebind its own
 * name to 127.0.0.1 (its Host still says that name).
 */
function refuseBrowsers(request: FastifyRequest): void {
  const host = header(request, 'host')
  if (host !== undefined && !isLoopbackHost(host)) {
    throw new ControlError(403, 'BANSTREAM_ERR_FORBIDDEN', 'without tokens this API answers requests to a loopback host name only')
  }
  const origin = header(request, 'origin')
  if (origin !== undefined && !(URL.canParse(origin) && isLoopbackHost(new URL(origin).host))) {
    throw new ControlError(403, 'BANSTREAM_ERR_FORBIDDEN', 'without tokens this API answers no request a web page of another origin makes')
  }
}

function unauthorized(message: string): ControlError {
  return new ControlError(401, 'BANSTREAM_ERR_UNAUTHORIZED', message)
}

/**
 * Checks the caller's credentials against the route's permission. It is a
 * preParsing hook of the guarded routes: after the rate limit (a route-level
 * onRequest hook, which scope hooks would precede), so that failed attempts
 * count too, and before the body is read. Without
 * tokens (loopback only) every route is open, except that bouncer routes ask
 * for a bouncer key once keys are configured. The messages of missing and bad
 * bearer tokens are @fastify/bearer-auth's, which `banstream client` shows.
 */
export function authenticate(credentials: Credentials): preParsingAsyncHookHandler {
  return async (request, reply, payload) => {
    check(credentials, request, reply)
    return payload
  }
}

function check(credentials: Credentials, request: FastifyRequest, reply: FastifyReply): void {
  if (request.is404) return
  const permission = permissionOf(request)
  const takesKey = request.routeOptions.config.bouncerKey === true
  const key = header(request, 'x-api-key')
  if (takesKey && key !== undefined) {
    const bouncer = credentials.bouncerKeys?.match(key)
    if (!bouncer) throw new ControlError(403, 'BANSTREAM_ERR_FORBIDDEN', 'the X-Api-Key is not a bouncer key of this API')
    request.principal = bouncer
    return
  }
  if (credentials.tokens === undefined && !(takesKey && credentials.bouncerKeys !== undefined)) {
    refuseBrowsers(request)
    request.principal = ANONYMOUS
    return
  }
  void reply.header('www-authenticate', 'Bearer realm="banstream"')
  const authorization = header(request, 'authorization')
  if (authorization === undefined) {
    throw unauthorized(takesKey ? 'missing X-Api-Key or authorization header' : 'missing authorization header')
  }
  const bearer = BEARER.exec(authorization)
  const principal = bearer ? credentials.tokens?.match(bearer[1]!) : undefined
  if (!principal) throw unauthorized('invalid authorization header')
  if (!roleAllows(principal.role!, permission)) {
    throw new ControlError(403, 'BANSTREAM_ERR_FORBIDDEN', `a '${principal.role}' token may not ${permission}`)
  }
  request.principal = principal
}
