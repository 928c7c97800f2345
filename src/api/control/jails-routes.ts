import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse, JailList, JailParams, JailStatus } from '../../../schemas/api/control.js'
import type { ControlPort } from './control-port.js'
import { unknownJail } from './control-error.js'

/** GET /v1/jails (fail2ban-client status) and GET /v1/jails/:jail (fail2ban-client status <jail>). */
export const jailsRoutes: FastifyPluginAsync<{ port: ControlPort }> = async (app, { port }) => {
  app.get('/v1/jails', {
    schema: { response: { 200: JailList, '4xx': ErrorResponse } },
  }, async (): Promise<JailList> => ({ jails: await port.jails() }))

  app.get<{ Params: JailParams }>('/v1/jails/:jail', {
    schema: { params: JailParams, response: { 200: JailStatus, '4xx': ErrorResponse } },
  }, async (request): Promise<JailStatus> => {
    const status = await port.status(request.params.jail)
    if (!status) throw unknownJail(request.params.jail)
    return status
  })
}
