import bearerAuth from '@fastify/bearer-auth'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { ADDRESS_FORMAT } from '../../../schemas/api/control.js'
import { isAddressText } from './address-format.js'
import { isLoopbackBind } from './bind-address.js'
import { bansRoutes } from './bans-routes.js'
import type { ControlPort } from './control-port.js'
import { controlErrorHandler, errorBody, MAX_PARAM_LENGTH } from './control-error.js'
import { healthRoutes } from './health-routes.js'
import { jailsRoutes } from './jails-routes.js'
import { reloadRoutes } from './reload-routes.js'

/** The default TCP port of the control API (and of `banstream client --url`). */
export const DEFAULT_CONTROL_PORT = 7373

export interface ControlApiOptions {
  /** The running jails. */
  port: ControlPort
  /**
   * Bearer token every /v1 request must carry. Required when `bind` is not a
   * loopback address; optional on loopback, and enforced whenever set.
   */
  token?: string
  /** The address the API will listen on; decides whether a token is required. The caller listens. */
  bind: string
  logger?: FastifyServerOptions['logger']
}

/** Refused configuration of the control API: reported before anything listens. */
export class ControlApiConfigError extends Error {
  override readonly name = 'ControlApiConfigError'
  readonly code = 'BANSTREAM_ERR_TOKEN_REQUIRED'
}

// RFC 6750 b64token: what a client can send after "Bearer " without quoting or trimming.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

/**
 * The control API: fail2ban-client's commands over HTTP. Throws
 * ControlApiConfigError when bound beyond loopback without a token, or when
 * the token could not be sent in an Authorization header.
 */
export function buildControlApi(opts: ControlApiOptions): FastifyInstance {
  const token = opts.token === '' ? undefined : opts.token
  if (token === undefined && !isLoopbackBind(opts.bind)) {
    throw new ControlApiConfigError(
      `the control API listens on ${opts.bind}, beyond this host: set a bearer token, or bind it to 127.0.0.1`)
  }
  if (token !== undefined && !B64TOKEN.test(token)) {
    throw new ControlApiConfigError('the control API token may hold only letters, digits and -._~+/ (then = padding)')
  }

  const app = Fastify({
    logger: opts.logger ?? false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Router-level failures (undecodable URL, overlong parameter) answer in the same coded shape.
    frameworkErrors: controlErrorHandler,
    ajv: {
      // Reject what does not match instead of coercing or silently dropping it.
      customOptions: {
        coerceTypes: false, removeAdditional: false, allErrors: false,
        formats: { [ADDRESS_FORMAT]: isAddressText },
      },
    },
  })
  app.setErrorHandler(controlErrorHandler)
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(404, 'BANSTREAM_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  })

  void app.register(healthRoutes)
  void app.register(async (v1) => {
    if (token !== undefined) {
      await v1.register(bearerAuth, {
        keys: new Set([token]),
        verifyErrorLogLevel: 'warn',
        errorResponse: (err: Error) => errorBody(401, 'BANSTREAM_ERR_UNAUTHORIZED', err.message),
      })
    }
    await v1.register(jailsRoutes, { port: opts.port })
    await v1.register(bansRoutes, { port: opts.port })
    await v1.register(reloadRoutes, { port: opts.port })
  })
  return app
}
