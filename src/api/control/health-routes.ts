import type { FastifyPluginAsync } from 'fastify'
import { Health } from '../../../schemas/api/control.js'

/** GET /healthz: liveness for load balancers and supervisors; answers without a token and tells nothing. */
export const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/healthz', { schema: { response: { 200: Health } } }, async (): Promise<Health> => ({ status: 'ok' }))
}
