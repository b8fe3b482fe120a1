// What every route plugin receives: the store, the change committer, auth and the
// coordinator's identity. Created once in api/app.ts.
import type { FastifyRequest } from 'fastify'
import type { ConfigVersions } from '../config-versions.ts'
import type { Account } from '../model.ts'
import type { Notifier } from '../notify/notifier.ts'
import type { CoordinatorStore } from '../store/store.ts'
import type { Authenticator } from './auth.ts'

export interface MeshIdentity {
  peerId: string
  multiaddrs: () => string[]
  publicKey: string
  /** Lets a newly enrolled peer through the coordinator's connection gater. */
  allowPeer: (peerId: string) => void
}

export interface ApiContext {
  store: CoordinatorStore
  versions: ConfigVersions
  auth: Authenticator
  mesh: MeshIdentity
  now: () => number
  /** Webhook notifications (coordinator/notify/); absent in setups that send none. */
  notifier?: Notifier
  /** Authenticates the caller for `accountId` and returns the account (404 if absent). */
  loadAccount: (request: FastifyRequest, accountId: string) => Promise<Account>
}
