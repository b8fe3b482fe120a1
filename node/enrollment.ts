// Enrollment of a shield node: exchanges the one-time token for the node's identity and the
// coordinator key to pin, once, and keeps the answer in <dataDir>/enrollment.json so the
// node restarts (and keeps serving) without the coordinator or the token.
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { LumosError } from '../proto/lumos-error.ts'
import { writeFileAtomic } from '../proto/peer-key-file.ts'

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
  signal?: AbortSignal
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
  let response: Response
  try {
    response = await fetch(`${init.coordinatorUrl}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: init.token, peerId: init.peerId, multiaddrs: init.multiaddrs }),
      signal: init.signal ?? AbortSignal.timeout(15_000)
    })
  } catch (err) {
    throw new LumosError('ENROLL_FAILED', `cannot reach the coordinator at ${init.coordinatorUrl}: ${(err as Error).message}; check LUMOS_COORDINATOR and the network`, { cause: err })
  }
  const body = await response.json().catch(() => ({})) as Record<string, unknown>
  if (!response.ok) throw new LumosError('ENROLL_FAILED', `coordinator refused enrollment (${response.status} ${String(body.code)}): ${String(body.message)}`)
  if (!isEnrollment(body)) throw new LumosError('ENROLL_FAILED', 'coordinator answered enrollment with an unexpected body; check that coordinator and node versions match')
  const enrollment: Enrollment = { serverId: body.serverId, accountId: body.accountId, coordinatorPublicKey: body.coordinatorPublicKey, coordinatorPeerId: body.coordinatorPeerId, bootstrap: body.bootstrap, configTopic: body.configTopic }
  await writeFileAtomic(init.path, JSON.stringify(enrollment, null, 2), 0o600)
  init.logger.info({ server: enrollment.serverId, account: enrollment.accountId }, 'node enrolled')
  return enrollment
}

/**
 * Pins a new coordinator key after a verified key rotation: rewrites the enrollment file
 * atomically (temp file, fsync, rename), so a restart verifies against the new key.
 */
export async function pinCoordinatorKey (path: string, enrollment: Enrollment, coordinatorPublicKey: string): Promise<void> {
  await writeFileAtomic(path, JSON.stringify({ ...enrollment, coordinatorPublicKey }, null, 2), 0o600)
}
