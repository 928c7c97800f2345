import type { FastifyPluginAsync } from 'fastify'
import {
  AddressParams, BanList, BanRequest, BanResults, ErrorResponse, JailAddressParams, JailBanRequest, JailParams, UnbanQuery, UnbanResult,
} from '../../../schemas/api/control.js'
import { canonicalize } from './address-format.js'
import type { ControlPort } from './control-port.js'
import { requireJail } from './require-jail.js'

/**
 * Bans: list them (fail2ban-client banned), add them (set <jail> banip; or POST
 * /v1/bans naming the jail in the body), end them (set <jail> unbanip, unban
 * <ip>... — also DELETE /v1/bans/{ip} —, unban --all). Addresses reach the port in
 * canonical spelling, so `2001:DB8::1` and `2001:db8::1` are one ban.
 */
export const bansRoutes: FastifyPluginAsync<{ port: ControlPort }> = async (app, { port }) => {
  app.get('/v1/bans', {
    schema: { response: { 200: BanList, '4xx': ErrorResponse } },
  }, async (): Promise<BanList> => ({ bans: await port.banned() }))

  app.post<{ Params: JailParams; Body: BanRequest }>('/v1/jails/:jail/bans', {
    schema: { params: JailParams, body: BanRequest, response: { 200: BanResults, '4xx': ErrorResponse } },
  }, async (request): Promise<BanResults> => {
    const { jail } = request.params
    await requireJail(port, jail)
    const opts = request.body.force === undefined ? {} : { force: request.body.force }
    return { results: await port.ban(jail, request.body.ips.map(canonicalize), opts) }
  })

  app.post<{ Body: JailBanRequest }>('/v1/bans', {
    schema: { body: JailBanRequest, response: { 200: BanResults, '4xx': ErrorResponse } },
  }, async (request): Promise<BanResults> => {
    const { jail, ips, force } = request.body
    await requireJail(port, jail)
    return { results: await port.ban(jail, ips.map(canonicalize), force === undefined ? {} : { force }) }
  })

  app.delete<{ Params: AddressParams }>('/v1/bans/:ip', {
    schema: { params: AddressParams, response: { 200: UnbanResult, '4xx': ErrorResponse } },
  }, async (request): Promise<UnbanResult> => ({ unbanned: await port.unban(undefined, [canonicalize(request.params.ip)]) }))

  app.delete<{ Params: JailAddressParams }>('/v1/jails/:jail/bans/:ip', {
    schema: { params: JailAddressParams, response: { 200: UnbanResult, '4xx': ErrorResponse } },
  }, async (request): Promise<UnbanResult> => {
    const { jail, ip } = request.params
    await requireJail(port, jail)
    return { unbanned: await port.unban(jail, [canonicalize(ip)]) }
  })

  app.delete<{ Querystring: UnbanQuery }>('/v1/bans', {
    schema: { querystring: UnbanQuery, response: { 200: UnbanResult, '4xx': ErrorResponse } },
  }, async (request): Promise<UnbanResult> => {
    const { ip } = request.query
    const ips = ip === undefined ? 'all' : (Array.isArray(ip) ? ip : [ip]).map(canonicalize)
    return { unbanned: await port.unban(undefined, ips) }
  })
}
