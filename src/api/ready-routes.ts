import type { FastifyPluginAsync } from 'fastify'
import { Readiness } from '../../schemas/api/history.js'
import type { Store } from '../store/store.js'

/**
 * GET /readyz: whether this API can answer history questions now — its store
 * answers a trivial query. 503 while it does not, so a load balancer routes
 * around it; an API without history is ready.
 */
export const readyRoutes: FastifyPluginAsync<{ store: Store | undefined }> = async (app, { store }) => {
  app.get('/readyz', {
    schema: { tags: ['health'], response: { 200: Readiness, 503: Readiness } },
  }, async (request, reply): Promise<Readiness> => {
    if (!store) return { status: 'ready', store: 'none' }
    try {
      await store.query('SELECT 1')
      return { status: 'ready', store: 'ok' }
    } catch (error) {
      request.log.warn({ err: error }, 'store unreachable')
      void reply.code(503)
      return { status: 'unready', store: 'unreachable' }
    }
  })
}
