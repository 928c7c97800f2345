import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Counter, Histogram, Registry } from 'prom-client'

/**
 * Prometheus metrics of the API on a registry of its own (the role passes one
 * to add its counters to; tests build many apps in one process, so nothing
 * goes to prom-client's global registry). The route label is the route's
 * pattern (`/v1/ips/:ip`), never the raw URL, so addresses do not each make
 * a series.
 */
export function countRequests(app: FastifyInstance, registry: Registry): void {
  const requests = new Counter({
    name: 'banstream_api_requests_total',
    help: 'API requests answered, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'banstream_api_request_duration_seconds',
    help: 'Time to answer an API request, by route pattern.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ method: request.method, route, status: String(reply.statusCode) })
    duration.observe({ route }, reply.elapsedTime / 1000)
  })
}

/** GET /metrics: the registry in Prometheus's text format. */
export const metricsRoutes: FastifyPluginAsync<{ registry: Registry }> = async (app, { registry }) => {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    void reply.type(registry.contentType)
    return registry.metrics()
  })
}
