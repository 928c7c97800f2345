import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { metricsRoutes } from './api-metrics.js'
import type { ListenAddress } from './listen-address.js'

/**
 * A listener serving only GET /metrics from `registry`, for roles without the
 * API (`banstream actuate --metrics`). It answers without a token: bind it
 * where only the scraper reaches (loopback by default).
 */
export async function startMetricsServer(registry: Registry, at: ListenAddress): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  await app.register(metricsRoutes, { registry })
  await app.listen({ host: at.host, port: at.port })
  return app
}
