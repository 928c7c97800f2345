import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { ActuatorList } from '../../../schemas/api/history.js'
import type { Store } from '../../store/store.js'
import { requireStore } from './history-store.js'
import { isoTime } from './time-range.js'

interface ActuatorRow { host: string; actuations: number; failed: number; last_ms: number; last_error: string | null }

/** GET /v1/actuators: each host's last report, how long ago that was, and its failures. */
export const actuatorsRoutes: FastifyPluginAsync<{ store: Store | undefined; now: () => number }> = async (app, { store, now }) => {
  app.get('/v1/actuators', {
    schema: { tags: ['history'], response: { 200: ActuatorList, '4xx': ErrorResponse, '5xx': ErrorResponse } },
  }, async (): Promise<ActuatorList> => {
    const rows = await requireStore(store).query<ActuatorRow>(`SELECT host, count() AS actuations, countIf(outcome = 'failed') AS failed,
        toUnixTimestamp64Milli(max(occurred_at)) AS last_ms, argMaxIf(error, occurred_at, outcome = 'failed') AS last_error
      FROM actuations FINAL GROUP BY host ORDER BY host`)
    const nowMs = now()
    return {
      actuators: rows.map((r) => ({
        host: r.host, last_actuation_at: isoTime(r.last_ms), lag_secs: Math.max(0, (nowMs - r.last_ms) / 1000),
        actuations: r.actuations, failed: r.failed, last_error: r.last_error === '' ? null : r.last_error,
      })),
    }
  })
}
