// Enrollment of a shield node: exchanges the one-time token for the node's identity and the
// coordinator key to pin, once, and keeps the answer in <dataDir>/enrollment.json so the
// node restarts (and keeps serving) without the coordinator or the token. While the
// coordinator cannot be reached (or answers 5xx/429) the node keeps asking, with backoff;
// a refusal ends the start with ENROLL_FAILED.
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { LumosError } from '../proto/lumos-error.ts'
import { writeFileAtomic } from '../proto/peer-key-file.ts'
import { retryDelayMs } from './mesh/catch-up.ts'

export interface Enrollment {
  serverId: string
  accountId: string
  coordinatorPublicKey: string
  coordinatorPeerId: string
  bootstrap: string[]
  configTopic: string
}

function isEnrollment (value: unknown): value is Enrollment {
  const v = value as Record<string, unknown>
  return typeof v === 'object' && v !== null &&
    ['serverId', 'accountId', 'coordinatorPublicKey', 'coordinatorPeerId', 'configTopic'].every(k => typeof v[k] === 'string' && v[k] !== '') &&
    Array.isArray(v.bootstrap) && v.bootstrap.every(a => typeof a === 'string')
}

export interface EnrollInit {
  path: string
  coordinatorUrl: string
  token: string | undefined
  peerId: string
  multiaddrs: string[]
  logger: Logger
  /** Backoff while the coordinator is unreachable (default ENROLL_RETRY). */
  retry?: Partial<EnrollRetry>
}

export async function loadOrEnroll (init: EnrollInit): Promise<Enrollment> {
  const saved = await readFile(init.path, 'utf8').then(text => JSON.parse(text) as unknown, (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (saved !== undefined) {
    if (!isEnrollment(saved)) throw new LumosError('NOT_ENROLLED', `${init.path} is not a valid enrollment; remove it and start again with LUMOS_TOKEN`)
    return saved
  }
  if (init.token === undefined) throw new LumosError('NOT_ENROLLED', 'this node is not enrolled yet: start it with LUMOS_TOKEN set to the token shown when the server was created')
  const retry = { ...ENROLL_RETRY, ...init.retry }
  for (let attempt = 1; ; attempt++) {
    try {
      const enrollment = await requestEnrollment(init, init.token)
      await writeFileAtomic(init.path, JSON.stringify(enrollment, null, 2), 0o600)
      init.logger.info({ server: enrollment.serverId, account: enrollment.accountId }, 'node enrolled')
      return enrollment
    } catch (err) {
      // A refusal (bad or used token) will not change by asking again; an unreachable or
      // overloaded coordinator may come up (a node provisioned before it, a restart).
      if (!(err instanceof TransientEnrollError)) throw err
      const delayMs = retryDelayMs(attempt, retry, Math.random())
      init.logger.warn({ attempt, retryInMs: delayMs, reason: err.message }, 'enrollment not done yet; retrying (check LUMOS_COORDINATOR and that the coordinator runs)')
      await new Promise(resolve => setTimeout(resolve, delayMs))
    }
  }
}

/** Backoff of enrollment attempts while the coordinator is unreachable or answers 5xx/429: doubling from baseMs up to maxMs. */
export interface EnrollRetry { baseMs: number, maxMs: number }
export const ENROLL_RETRY: Readonly<EnrollRetry> = Object.freeze({ baseMs: 1000, maxMs: 30_000 })

class TransientEnrollError extends Error {}

async function requestEnrollment (init: EnrollInit, token: string): Promise<Enrollment> {
  let response: Response
  try {
    response = await fetch(`${init.coordinatorUrl}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, peerId: init.peerId, multiaddrs: init.multiaddrs }),
      signal: AbortSignal.timeout(15_000)
    })
  } catch (err) {
    throw new TransientEnrollError(`cannot reach the coordinator at ${init.coordinatorUrl}: ${(err as Error).message}`)
  }
  const body = await response.json().catch(() => ({})) as Record<string, unknown>
  if (response.status >= 500 || response.status === 429) throw new TransientEnrollError(`coordinator answered ${response.status} ${String(body.code)}`)
  if (!response.ok) throw new LumosError('ENROLL_FAILED', `coordinator refused enrollment (${response.status} ${String(body.code)}): ${String(body.message)}`)
  if (!isEnrollment(body)) throw new LumosError('ENROLL_FAILED', 'coordinator answered enrollment with an unexpected body; check that coordinator and node versions match')
  return { serverId: body.serverId, accountId: body.accountId, coordinatorPublicKey: body.coordinatorPublicKey, coordinatorPeerId: body.coordinatorPeerId, bootstrap: body.bootstrap, configTopic: body.configTopic }
}

/**
 * Pins a new coordinator key after a verified key rotation: rewrites the enrollment file
 * atomically (temp file, fsync, rename), so a restart verifies against the new key.
 */
export async function pinCoordinatorKey (path: string, enrollment: Enrollment, coordinatorPublicKey: string): Promise<void> {
  await writeFileAtomic(path, JSON.stringify({ ...enrollment, coordinatorPublicKey }, null, 2), 0o600)
}
