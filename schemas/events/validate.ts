import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'

// RFC 3339 date-time, the form of every *_at field; TypeBox knows no formats until told.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i
/**
 * The form toISOString writes, every field in the range ECMAScript's date time string format
 * allows (a day 01 to 31 in any month), which Date.parse therefore always reads: the times our
 * stages write pass without Date.parse, which cost the store sink half of validating an event.
 */
const ISO_STRING_IN_RANGE = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => ISO_STRING_IN_RANGE.test(value) || (DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))))
}

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] }

/** Thrown by assertValid: a malformed event at a boundary. */
export class InvalidEventError extends Error {
  readonly code = 'BANSTREAM_ERR_INVALID_EVENT'
  constructor(readonly schemaId: string, readonly errors: readonly string[]) {
    super(`invalid ${schemaId}: ${errors.join('; ')}`)
    this.name = 'InvalidEventError'
  }
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>()

function checkerOf<T extends TSchema>(schema: T): TypeCheck<T> {
  let check = compiled.get(schema)
  if (!check) {
    check = TypeCompiler.Compile(schema)
    compiled.set(schema, check)
  }
  return check as TypeCheck<T>
}

/** Checks a value against an event schema (compiled once per schema), listing every error. */
export function validate<T extends TSchema>(schema: T, value: unknown): Validated<Static<T>> {
  const check = checkerOf(schema)
  if (check.Check(value)) return { ok: true, value }
  const errors = [...check.Errors(value)].map((e) => `${e.path || '/'}: ${e.message}`)
  return { ok: false, errors }
}

/** Returns the value typed when it matches the schema; throws InvalidEventError otherwise. */
export function assertValid<T extends TSchema>(schema: T, value: unknown): Static<T> {
  const result = validate(schema, value)
  if (result.ok) return result.value
  throw new InvalidEventError(String(schema.$id ?? 'event'), result.errors)
}

/**
 * The text of UTF-8 bytes, read in place (Buffer.from would copy them first). toString() without
 * arguments is UTF-8 and skips the encoding lookup toString('utf8') makes per call.
 */
export function utf8Text(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString()
}

/** Parses a JSON record (a Kafka value) and validates it; malformed JSON is an error like any other. */
export function decodeEvent<T extends TSchema>(schema: T, json: string | Uint8Array): Validated<Static<T>> {
  let value: unknown
  try {
    value = JSON.parse(typeof json === 'string' ? json : utf8Text(json))
  } catch (error) {
    return { ok: false, errors: [`/: not JSON (${(error as Error).message})`] }
  }
  return validate(schema, value)
}
