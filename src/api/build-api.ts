import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import { Registry } from 'prom-client'
import { ADDRESS_FORMAT } from '../../schemas/api/control.js'
import { StoreError, type Store } from '../store/store.js'
import { countRequests, metricsRoutes } from './api-metrics.js'
import { credentialId, SecretRing, type ApiToken, type Principal } from './auth/api-token.js'
import { authenticate, identify, type Credentials } from './auth/authenticate.js'
import { isAddressText } from './control/address-format.js'
import { bansRoutes } from './control/bans-routes.js'
import { isLoopbackBind } from './control/bind-address.js'
import { ControlApiConfigError } from './api-settings.js'
import type { ControlPort } from './control/control-port.js'
import { ControlError, controlErrorHandler, errorBody, MAX_PARAM_LENGTH } from './control/control-error.js'
import { healthRoutes } from './control/health-routes.js'
import { jailsRoutes } from './control/jails-routes.js'
import { reloadRoutes } from './control/reload-routes.js'
import { decisionsRoutes } from './crowdsec/decisions-routes.js'
import { actuatorsRoutes } from './history/actuators-routes.js'
import { eventsRoutes } from './history/events-routes.js'
import { ipRoutes } from './history/ip-routes.js'
import { statsRoutes } from './history/stats-routes.js'
import { readyRoutes } from './ready-routes.js'
import { replayRoutes } from './replay/replay-routes.js'
import type { ReplaySettings } from './replay/replay-request.js'

export type { ApiRole, ApiToken } from './auth/api-token.js'

export interface ApiOptions {
  /** The running jails. */
  control: ControlPort
  /** The event history; without one the history routes answer 503 BANSTREAM_ERR_NO_HISTORY. */
  store?: Store
  /** What POST /v1/replay may replay (configuration, file directories, log); without it the replay routes answer 503 BANSTREAM_ERR_NO_REPLAY. */
  replay?: ReplaySettings
  /**
   * Bearer tokens and their roles. Required (non-empty) when `bind` is not a
   * loopback address; on loopback, undefined or empty leaves the API open.
   */
  tokens: readonly ApiToken[] | undefined
  /** The address the API will listen on; decides whether tokens are required. The caller listens. */
  bind: string
  /** CrowdSec bouncer keys (`X-Api-Key`) for /v1/decisions and /v1/decisions/stream. */
  bouncerKeys?: readonly string[]
  /**
   * Where the time of each bouncer's last pull is kept, so that after a restart a bouncer is told
   * the bans lifted while it was not served; without it, only for as long as this process runs.
   */
  bouncerPullsFile?: string
  /** The clock, epoch milliseconds: default ranges, remaining ban durations, actuator lag. */
  now?: () => number
  /** Where /metrics reads from; the role registers its own counters on it too. */
  metrics?: Registry
  /** Requests per window per credential (per client address without one); false turns the limit off. */
  rateLimit?: { max: number; timeWindowMs: number } | false
  logger?: FastifyServerOptions['logger']
}

export const DEFAULT_RATE_LIMIT = { max: 1200, timeWindowMs: 60_000 }

// RFC 6750 b64token: what a client can send after "Bearer " without quoting or trimming.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/
// A bouncer key travels as a header value: visible ASCII, no spaces.
const HEADER_KEY = /^[\x21-\x7e]+$/

function credentials(opts: ApiOptions): Credentials {
  const tokens = (opts.tokens ?? []).filter((t) => t.token !== '')
  if (tokens.length === 0 && !isLoopbackBind(opts.bind)) {
    throw new ControlApiConfigError(
      `the control API listens on ${opts.bind}, beyond this host: set a bearer token, or bind it to 127.0.0.1`)
  }
  for (const t of tokens) {
    if (!B64TOKEN.test(t.token)) throw new ControlApiConfigError('an API token may hold only letters, digits and -._~+/ (then = padding)')
    if (!['read', 'operate', 'actuate'].includes(t.role)) throw new ControlApiConfigError(`an API token's role must be read, operate or actuate, not ${String(t.role)}`)
  }
  const keys = opts.bouncerKeys ?? []
  for (const key of keys) if (!HEADER_KEY.test(key)) throw new ControlApiConfigError('a bouncer key may hold only visible ASCII characters, without spaces')
  return {
    tokens: tokens.length === 0 ? undefined
      : new SecretRing<Principal>(tokens.map((t) => [t.token, { kind: 'token', role: t.role, id: credentialId('token', t.token) }])),
    bouncerKeys: keys.length === 0 ? undefined
      : new SecretRing<Principal>(keys.map((k) => [k, { kind: 'bouncer', role: 'actuate', id: credentialId('bouncer', k) }])),
  }
}

/** The coded error handler, with a store that cannot be reached answering 503 rather than 500. */
function apiErrorHandler(error: FastifyError | ControlError, request: FastifyRequest, reply: FastifyReply): void {
  if (error instanceof StoreError && error.clickhouseCode === undefined) {
    request.log.warn({ err: error }, 'store unavailable')
    void reply.code(503).send(errorBody(503, 'BANSTREAM_ERR_STORE_UNAVAILABLE', 'the event history is unavailable; see the banstream log'))
    return
  }
  controlErrorHandler(error, request, reply)
}

/**
 * banstream's REST API: the control routes (fail2ban-client over HTTP), the
 * event history, CrowdSec's bouncer API, /healthz, /readyz, /metrics and the
 * OpenAPI document at /docs. Throws ControlApiConfigError when bound beyond
 * loopback without tokens, or when a token or key could not travel in its header.
 */
export function buildApi(opts: ApiOptions): FastifyInstance {
  const creds = credentials(opts)
  const now = opts.now ?? Date.now
  const registry = opts.metrics ?? new Registry()
  const app = Fastify({
    logger: opts.logger ?? false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: controlErrorHandler,
    ajv: {
      // Reject what does not match instead of coercing or silently dropping it (query numbers: see query-coercion.ts).
      customOptions: {
        coerceTypes: false, removeAdditional: false, allErrors: false,
        formats: { [ADDRESS_FORMAT]: isAddressText },
      },
    },
  })
  app.setErrorHandler(apiErrorHandler)
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(404, 'BANSTREAM_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`))
  })

  countRequests(app, registry)
  const limit = opts.rateLimit ?? DEFAULT_RATE_LIMIT
  if (limit !== false) {
    void app.register(rateLimit, {
      max: limit.max,
      timeWindow: limit.timeWindowMs,
      // A guessed token must not buy a fresh budget: only a valid credential keys its own.
      keyGenerator: (request) => identify(request, creds)?.id ?? `ip:${request.ip}`,
      allowList: (request) => request.routeOptions.url === '/healthz' || request.routeOptions.url === '/readyz',
      errorResponseBuilder: (_request, context) =>
        new ControlError(429, 'BANSTREAM_ERR_RATE_LIMITED', `more than ${context.max} requests in ${context.after}; retry later`),
    })
  }
  void app.register(swagger, {
    openapi: {
      info: { title: 'banstream', version: '1', description: 'fail2ban rebuilt as a stream processor: control, history, replay and CrowdSec bouncer API.' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A token of role read, operate or actuate.' },
          bouncerKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'A CrowdSec bouncer key (decision routes).' },
        },
      },
      security: [{ bearer: [] }],
    },
  })
  void app.register(swaggerUi, { routePrefix: '/docs' })
  void app.register(healthRoutes)
  void app.register(readyRoutes, { store: opts.store })
  void app.register(async (guarded) => {
    guarded.addHook('preParsing', authenticate(creds))
    await guarded.register(metricsRoutes, { registry })
    await guarded.register(jailsRoutes, { port: opts.control })
    await guarded.register(bansRoutes, { port: opts.control })
    await guarded.register(reloadRoutes, { port: opts.control })
    await guarded.register(ipRoutes, { store: opts.store, control: opts.control })
    await guarded.register(eventsRoutes, { store: opts.store })
    await guarded.register(statsRoutes, { store: opts.store, now })
    await guarded.register(actuatorsRoutes, { store: opts.store, now })
    await guarded.register(decisionsRoutes, { control: opts.control, now, ...(opts.bouncerPullsFile !== undefined ? { pullsFile: opts.bouncerPullsFile } : {}) })
    await guarded.register(replayRoutes, { settings: opts.replay, store: opts.store, now })
  })
  return app
}
