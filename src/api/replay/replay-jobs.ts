import { randomUUID } from 'node:crypto'
import type { ReplayJob } from '../../../schemas/api/replay.js'
import type { JailDiff } from '../../roles/replay-diff.js'
import type { ReplayProgress, ReplayResult } from '../../roles/replay.js'

/** What a job's work gives back. */
export interface ReplayOutcome {
  readonly result: ReplayResult
  readonly diff?: readonly JailDiff[]
}

/** A job as GET /v1/replay/{id} answers it (the ReplayJob schema, with the replay's own result types). */
export type ReplayJobView = Omit<ReplayJob, 'result' | 'diff'> & Partial<ReplayOutcome>

/** A job's work: reports progress, stops (rejecting) once `signal` aborts. */
export type ReplayWork = (onProgress: (progress: ReplayProgress) => void, signal: AbortSignal) => Promise<ReplayOutcome>

export interface ReplayJobsOptions {
  /** Jobs waiting behind the running one; a submit beyond this is refused. */
  readonly maxQueued: number
  /** Finished jobs kept for GET, the least recently asked about dropped first. */
  readonly keepFinished: number
  /** Epoch milliseconds. */
  readonly now: () => number
}

interface Job {
  readonly id: string
  readonly work: ReplayWork
  readonly skipped: ReplayJob['skipped']
  readonly createdAt: number
  /** Runs once the job is finished or dropped: temp files go. */
  readonly cleanup: () => Promise<void>
  state: ReplayJob['state']
  startedAt?: number
  finishedAt?: number
  progress?: ReplayProgress
  outcome?: ReplayOutcome
  error?: string
}

/**
 * Replay jobs of the API, run one at a time in this process: a replay takes
 * the CPU for as long as it runs, and two at once would only finish later
 * each. A bounded queue waits behind the running job; finished jobs stay
 * readable until `keepFinished` newer or more recently read ones push them out.
 */
export class ReplayJobs {
  private readonly jobs = new Map<string, Job>()
  private readonly queue: Job[] = []
  private running: Promise<void> | undefined
  private readonly abort = new AbortController()

  constructor(private readonly options: ReplayJobsOptions) {}

  /** Whether a submit now would be refused: checked before a job is prepared, which costs a candidate's compiling. */
  full(): boolean {
    return this.running !== undefined && this.queue.length >= this.options.maxQueued
  }

  /** Runs the work, or queues it behind the running job; undefined when the queue is full or the jobs are closed. */
  submit(work: ReplayWork, extra: { skipped?: ReplayJob['skipped']; cleanup?: () => Promise<void> } = {}): string | undefined {
    const full = this.full()
    if (full || this.abort.signal.aborted) return undefined
    const job: Job = {
      id: randomUUID(), work, skipped: extra.skipped ?? [], createdAt: this.options.now(),
      cleanup: extra.cleanup ?? (async () => undefined), state: 'queued',
    }
    this.jobs.set(job.id, job)
    this.queue.push(job)
    this.running ??= this.drain()
    return job.id
  }

  /** The job as GET /v1/replay/{id} shows it; reading a finished job keeps it longer. */
  view(id: string): ReplayJobView | undefined {
    const job = this.jobs.get(id)
    if (!job) return undefined
    if (job.finishedAt !== undefined) {
      this.jobs.delete(id)
      this.jobs.set(id, job)
    }
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
    return {
      id: job.id,
      state: job.state,
      created_at: iso(job.createdAt)!,
      started_at: iso(job.startedAt),
      finished_at: iso(job.finishedAt),
      progress: this.progressOf(job),
      skipped: job.skipped,
      ...(job.error !== undefined ? { error: job.error } : {}),
      ...(job.outcome ? { result: job.outcome.result } : {}),
      ...(job.outcome?.diff ? { diff: job.outcome.diff } : {}),
    }
  }

  /** Drops the queued jobs, stops the running one and waits for it to end. */
  async close(): Promise<void> {
    this.abort.abort()
    for (const job of this.queue.splice(0)) this.finish(job, 'failed', 'the API closed before the job ran')
    await this.running
  }

  private progressOf(job: Job): ReplayJob['progress'] {
    const lines = job.progress?.lines ?? 0
    if (job.startedAt === undefined) return { lines, lines_per_s: null, eta_s: null }
    const secs = ((job.finishedAt ?? this.options.now()) - job.startedAt) / 1000
    const rate = secs > 0 ? lines / secs : null
    if (job.finishedAt !== undefined) return { lines, lines_per_s: rate, eta_s: job.state === 'done' ? 0 : null }
    const share = job.progress && job.progress.total > 0 ? job.progress.done / job.progress.total : 0
    return { lines, lines_per_s: rate, eta_s: share > 0 ? secs * (1 - Math.min(1, share)) / share : null }
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      job.state = 'running'
      job.startedAt = this.options.now()
      try {
        const outcome = await job.work((progress) => { job.progress = progress }, this.abort.signal)
        job.outcome = outcome
        this.finish(job, 'done')
      } catch (err) {
        this.finish(job, 'failed', (err as Error).message)
      }
      await job.cleanup()
    }
    this.running = undefined
  }

  private finish(job: Job, state: 'done' | 'failed', error?: string): void {
    job.state = state
    job.finishedAt = this.options.now()
    if (error !== undefined) job.error = error
    if (state === 'failed' && job.startedAt === undefined) void job.cleanup()
    const finished = [...this.jobs.values()].filter((j) => j.finishedAt !== undefined)
    for (const old of finished.slice(0, Math.max(0, finished.length - this.options.keepFinished))) this.jobs.delete(old.id)
  }
}
