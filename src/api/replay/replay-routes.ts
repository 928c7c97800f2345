import type { FastifyPluginAsync } from 'fastify'
import { ErrorResponse } from '../../../schemas/api/control.js'
import { REPLAY_BODY_LIMIT, ReplayAccepted, ReplayJob, ReplayParams, ReplayRequest } from '../../../schemas/api/replay.js'
import type { Store } from '../../store/store.js'
import { ControlError } from '../control/control-error.js'
import { ReplayJobs, type ReplayJobView } from './replay-jobs.js'
import { prepareReplay, type ReplaySettings } from './replay-request.js'

export interface ReplayRoutesOptions {
  /** Without settings the routes answer 503 BANSTREAM_ERR_NO_REPLAY. */
  readonly settings: ReplaySettings | undefined
  /** The history the diff compares with. */
  readonly store: Store | undefined
  /** Epoch milliseconds. */
  readonly now: () => number
}

/**
 * POST /v1/replay: a candidate configuration over past lines, as a job;
 * GET /v1/replay/{id}: its state, progress and, once done, the result (the
 * JSON of `banstream replay --json`) and the diff against the history.
 */
export const replayRoutes: FastifyPluginAsync<ReplayRoutesOptions> = async (app, { settings, store, now }) => {
  const jobs = settings ? new ReplayJobs({ maxQueued: settings.maxQueued ?? 4, keepFinished: settings.keepFinished ?? 32, now }) : undefined
  app.addHook('onClose', async () => jobs?.close())
  const requireJobs = (): { jobs: ReplayJobs; settings: ReplaySettings } => {
    if (!jobs || !settings) throw new ControlError(503, 'BANSTREAM_ERR_NO_REPLAY', 'this banstream is not set up for replay (no configuration to replay)')
    return { jobs, settings }
  }

  app.post<{ Body: ReplayRequest }>('/v1/replay', {
    bodyLimit: REPLAY_BODY_LIMIT,
    config: { permission: 'operate' },
    schema: {
      summary: 'Replay past lines through the current or a candidate configuration',
      body: ReplayRequest,
      response: { 202: ReplayAccepted, '4xx': ErrorResponse, '5xx': ErrorResponse },
    },
  }, async (request, reply): Promise<ReplayAccepted> => {
    const { jobs, settings } = requireJobs()
    const queueFull = () => new ControlError(429, 'BANSTREAM_ERR_REPLAY_QUEUE_FULL', 'replay jobs are queued to the limit; retry once one has run')
    if (jobs.full()) throw queueFull()
    const prepared = await prepareReplay(request.body, settings, store)
    const id = jobs.submit(prepared.work, { skipped: prepared.skipped, cleanup: prepared.cleanup })
    if (id === undefined) {
      await prepared.cleanup()
      throw queueFull()
    }
    void reply.code(202).header('location', `/v1/replay/${id}`)
    return { id }
  })

  app.get<{ Params: ReplayParams }>('/v1/replay/:id', {
    schema: {
      summary: 'A replay job: state, progress, result and diff',
      params: ReplayParams,
      response: { 200: ReplayJob, '4xx': ErrorResponse, '5xx': ErrorResponse },
    },
  }, async (request): Promise<ReplayJobView> => {
    const job = requireJobs().jobs.view(request.params.id)
    if (!job) throw new ControlError(404, 'BANSTREAM_ERR_NOT_FOUND', `no replay job ${request.params.id} (finished jobs are kept for a while only)`, 'params/id')
    return job
  })
}
