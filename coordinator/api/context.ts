// What every route plugin receives: the store, the change committer, auth and the
// coordinator's identity. Created once in api/app.ts.
import type { FastifyRequest } from 'fastify'
import type { ConfigVersions } from '../config-versions.ts'
import type { FailoverDrill } from '../failover/failover-drills.ts'
import type { FailoverEvent } from '../failover/failover-events.ts'
import type { ServerRuntime } from '../fleet/account-fleet.ts'
import type { Account, DomainRecord } from '../model.ts'
import type { Notifier } from '../notify/notifier.ts'
import type { CoordinatorStore } from '../store/store.ts'
import type { Authenticator } from './auth.ts'

export interface MeshIdentity {
  peerId: string
  multiaddrs: () => string[]
  publicKey: string
  /** Lets a newly enrolled peer through the coordinator's connection gater and into the fleet's roster. */
  admitPeer: (accountId: string, peerId: string) => Promise<void>
}

/** The coordinator's live view of the fleet (coordinator/fleet/fleet-state.ts) and its partition drill. */
export interface FleetControl {
  runtime: (accountId: string, serverId: string) => ServerRuntime | undefined
  /** The coordinator's open libp2p connections to a peer. */
  connections: (peerId: string) => number
  /** Denies and hangs up the server's peer for `ms`; undefined when it has no active peer. */
  partition: (accountId: string, serverId: string, ms: number) => Promise<{ peerId: string, until: number } | undefined>
}

/** Failover events (always) and drills (only when DNS failover is configured). */
export interface FailoverControl {
  events: (accountId: string, limit: number, domainId?: string) => Promise<FailoverEvent[]>
  drill?: (domain: DomainRecord, ms: number) => FailoverDrill
}

export interface ApiContext {
  store: CoordinatorStore
  versions: ConfigVersions
  auth: Authenticator
  mesh: MeshIdentity
  now: () => number
  /** Webhook notifications (coordinator/notify/); absent in setups that send none. */
  notifier?: Notifier
  /** Runtime statuses merged into server answers; absent in setups without a mesh. */
  fleet?: FleetControl
  failover?: FailoverControl
  /** Authenticates the caller for `accountId` and returns the account (404 if absent). */
  loadAccount: (request: FastifyRequest, accountId: string) => Promise<Account>
}
