// API authentication: "Authorization: Bearer <key>". The admin key (from the coordinator's
// config) may act on every account; an account API key only on its own account.
// Keys are compared by SHA-256 hash; the plaintext is never stored or logged.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { coordinatorError } from '../errors.ts'
import type { CoordinatorStore } from '../store/store.ts'

export function sha256Hex (secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** A new secret with a readable type prefix, e.g. lgk_… for API keys, lgt_… for server tokens. */
export function newSecret (kind: 'lgk' | 'lgt'): { secret: string, hash: string, prefix: string } {
  const secret = `${kind}_${randomBytes(24).toString('base64url')}`
  return { secret, hash: sha256Hex(secret), prefix: secret.slice(0, 10) }
}

export type Caller = { kind: 'admin' } | { kind: 'account', accountId: string }

export interface Authenticator {
  caller: (request: FastifyRequest) => Promise<Caller>
  requireAdmin: (request: FastifyRequest) => Promise<void>
  requireAccount: (request: FastifyRequest, accountId: string) => Promise<void>
}

export function createAuthenticator (store: CoordinatorStore, adminKeyHash: string): Authenticator {
  const adminHash = Buffer.from(adminKeyHash, 'hex')
  async function caller (request: FastifyRequest): Promise<Caller> {
    const header = request.headers.authorization ?? ''
    const match = /^Bearer (\S+)$/.exec(header)
    if (match === null) throw coordinatorError('UNAUTHORIZED', 'send the API key as "Authorization: Bearer <key>"')
    const hash = sha256Hex(match[1] as string)
    if (timingSafeEqual(Buffer.from(hash, 'hex'), adminHash)) return { kind: 'admin' }
    const key = await store.getApiKey(hash)
    if (key === undefined) throw coordinatorError('UNAUTHORIZED', 'unknown API key; create one with the admin key or check for typos')
    return { kind: 'account', accountId: key.accountId }
  }
  return {
    caller,
    async requireAdmin (request) {
      if ((await caller(request)).kind !== 'admin') throw coordinatorError('FORBIDDEN', 'this route needs the admin key')
    },
    async requireAccount (request, accountId) {
      const who = await caller(request)
      if (who.kind === 'account' && who.accountId !== accountId) throw coordinatorError('FORBIDDEN', 'this API key belongs to another account')
    }
  }
}
