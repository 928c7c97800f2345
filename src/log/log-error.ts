/** An error the caller can act on, with a stable code (`BANSTREAM_ERR_LOG_*`). */
export class LogError extends Error {
  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LogError'
  }
}
