import type { Command } from 'commander'
import type { Registry } from 'prom-client'
import { parseListenAddress, type ListenAddress } from '../api/listen-address.js'
import { UsageError } from './usage-error.js'

/** Adds `--metrics <host:port>` for a fleet role that has no API of its own. */
export function withMetrics(command: Command): Command {
  return command.option('--metrics <host:port>', 'serve Prometheus metrics at http://<host:port>/metrics, without a token (e.g. 127.0.0.1:9464)')
}

/** Where `--metrics` asks the listener to bind, checked before the role starts; undefined without the option. */
export function metricsAddress(value: string | undefined): ListenAddress | undefined {
  if (value === undefined) return undefined
  const at = parseListenAddress(value)
  if (at === undefined) throw new UsageError(`--metrics ${value}: use host:port, [v6-address]:port or :port`)
  return at
}

/** Serves `registry` at `at` until closed; nothing without an address. */
export async function serveMetrics(registry: Registry, at: ListenAddress | undefined): Promise<{ close(): Promise<unknown> } | undefined> {
  if (at === undefined) return undefined
  const { startMetricsServer } = await import('../api/metrics-server.js')
  return startMetricsServer(registry, at)
}
