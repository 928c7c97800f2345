import Fastify, { type FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { metricsRoutes } from './api-metrics.js'

/** Where a metrics listener binds. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

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

/**
 * `host:port`, `[v6-address]:port` or `:port` (loopback) as a ListenAddress;
 * undefined when the text is none of these or the port is past 65535.
 */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text)
  if (!m) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port }
}
