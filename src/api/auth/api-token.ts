import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * What a bearer token may do:
 * - `read`: every GET of the API (jails, bans, history, stats, metrics);
 * - `operate`: `read`, plus bans, unbans and reload;
 * - `actuate`: the decision feed enforcers pull (`/v1/decisions`, `/v1/decisions/stream`), nothing else.
 */
export type ApiRole = 'read' | 'operate' | 'actuate'

/** A bearer token and its role, from the configuration. */
export interface ApiToken {
  readonly token: string
  readonly role: ApiRole
}

/** What a route asks of the caller's token. */
export type Permission = 'read' | 'operate' | 'actuate'

const GRANTS: Readonly<Record<ApiRole, readonly Permission[]>> = {
  read: ['read'],
  operate: ['read', 'operate'],
  actuate: ['actuate'],
}

export function roleAllows(role: ApiRole, permission: Permission): boolean {
  return GRANTS[role].includes(permission)
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * A set of secrets looked up in constant time: the presented value is hashed
 * and compared with every entry's hash with timingSafeEqual, without stopping
 * at a match, so neither the time to answer nor its length tells how much of
 * a guess was right or which entry it was near.
 */
export class SecretRing<T> {
  private readonly entries: { hash: Buffer; value: T }[]

  constructor(entries: Iterable<readonly [secret: string, value: T]>) {
    this.entries = [...entries].map(([secret, value]) => ({ hash: digest(secret), value }))
  }

  get size(): number {
    return this.entries.length
  }

  /** The value of the presented secret, or undefined. */
  match(presented: string): T | undefined {
    const hash = digest(presented)
    let found: T | undefined
    for (const entry of this.entries) if (timingSafeEqual(entry.hash, hash) && found === undefined) found = entry.value
    return found
  }
}

/** Who made a request, once authenticated: the rate limit and the bouncer feed key on `id`. */
export interface Principal {
  readonly kind: 'token' | 'bouncer' | 'anonymous'
  readonly role: ApiRole | undefined
  /** A stable, non-secret name of the credential: a prefix of its SHA-256. */
  readonly id: string
}

export function credentialId(kind: 'token' | 'bouncer', secret: string): string {
  return `${kind}:${digest(secret).toString('hex').slice(0, 16)}`
}
