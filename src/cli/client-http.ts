import { STATUS_CODES } from 'node:http'
import type { TSchema, Static } from '@sinclair/typebox'
import { ErrorResponse } from '../../schemas/api/control.js'
import { validate } from '../../schemas/events/validate.js'

/** The server could not be reached or answered an error: one line for stderr. */
export class ClientError extends Error {
  override readonly name = 'ClientError'
}

// Reload rereads every filter and log path; give it time, but never hang a script forever.
const REQUEST_TIMEOUT_MS = 60_000

/** A thin fetch client of the control API that checks every answer against its schema. */
export class ControlHttp {
  private readonly base: URL

  constructor(url: string, private readonly token: string | undefined) {
    let base: URL
    try {
      base = new URL(url.endsWith('/') ? url : `${url}/`)
    } catch {
      throw new ClientError(`--url ${url}: not a URL`)
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new ClientError(`--url ${url}: not an http(s) URL`)
    this.base = base
  }

  /** `path` is relative to the base URL (`v1/jails`) with every parameter already URL-encoded. */
  async request<T extends TSchema>(method: string, path: string, schema: T, body?: unknown): Promise<Static<T>> {
    const url = new URL(path, this.base)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(url, {
        method, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
    } catch (err) {
      throw new ClientError(`cannot reach the control API at ${this.base.origin}: ${reason(err)}`)
    }
    const text = await res.text()
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new ClientError(`the control API answered ${res.status} ${STATUS_CODES[res.status] ?? ''} without JSON`.trimEnd())
    }
    if (!res.ok) {
      const error = validate(ErrorResponse, value)
      if (!error.ok) throw new ClientError(`the control API answered ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd())
      throw new ClientError(`${error.value.message} (${error.value.code})`)
    }
    const checked = validate(schema, value)
    if (!checked.ok) throw new ClientError(`unexpected answer from the control API: ${checked.errors[0]}`)
    return checked.value
  }
}

function reason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`
  const cause = err instanceof Error ? (err.cause as NodeJS.ErrnoException | undefined) : undefined
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))
}
