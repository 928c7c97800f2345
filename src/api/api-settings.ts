/** The default TCP port of the API (and of `banstream client --url`). */
export const DEFAULT_CONTROL_PORT = 7373

/** Refused configuration of the API (tokens, keys, bind address): reported before anything listens. */
export class ControlApiConfigError extends Error {
  override readonly name = 'ControlApiConfigError'
  readonly code = 'BANSTREAM_ERR_TOKEN_REQUIRED'
}
