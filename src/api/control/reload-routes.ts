import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse, ReloadResult } from '../../../schemas/api/control.js'
import type { ControlPort } from './control-port.js'

/** POST /v1/reload: fail2ban-client reload — reread the configuration, keep the bans. */
export const reloadRoutes: FastifyPluginAsync<{ port: ControlPort }> = async (app, { port }) => {
  app.post('/v1/reload', {
    schema: { response: { 200: ReloadResult, '4xx': ErrorResponse } },
  }, async (): Promise<ReloadResult> => {
    await port.reload()
    return { status: 'OK' }
  })
}
