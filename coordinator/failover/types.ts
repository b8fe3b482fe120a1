// Types of the coordinator's pure failover core: the quorum rule (quorum.ts), the inputs
// and actions of decideFailover (decide-failover.ts) and the per-domain state the engine
// persists between decisions. The shell (FailoverEngine) builds the inputs from the store,
// the observations and the DNS provider, and carries out the actions in order.
import type { PeerObservation, PeerView } from '../../proto/observation.ts'

export type { PeerObservation, PeerView }

/** The timing half of the quorum rule; presets in constants.ts. */
export interface QuorumTiming {
  /** Observations older than this (by `at`) are ignored: their observer may be gone. */
  readonly freshnessMs: number
  /** 1-server fleet: how long the coordinator alone must see the server down. */
  readonly soloConfirmMs: number
}

export interface QuorumRule extends QuorumTiming {
  /** The observer id the coordinator's own observations carry. */
  readonly coordinatorId: string
  /**
   * Servers of the account that take part in the mesh (in the latest signed config, not
   * decommissioned). Only they can vote; the target never votes on itself.
   */
  readonly fleet: readonly string[]
}

export type QuorumReason =
  | 'quorum' // coordinator and a strict majority of the voting peers see it down
  | 'solo-confirmed' // 1-server fleet: the coordinator saw it down for soloConfirmMs
  | 'solo-confirming' // 1-server fleet: down, but not yet for soloConfirmMs
  | 'no-coordinator-view' // the coordinator has no fresh view of its own
  | 'coordinator-disagrees' // the coordinator does not see it down
  | 'no-peer-view' // no peer has a fresh view: a coordinator-only observation never suffices
  | 'no-majority' // the coordinator sees it down, but not a strict majority of the voters

export interface QuorumVerdict {
  readonly down: boolean
  /** `suspect` when someone fresh sees it suspect/down without a quorum: report, do not act. */
  readonly state: 'down' | 'suspect' | 'up'
  readonly reason: QuorumReason
  readonly coordinatorView: PeerView | null
  /** Peers with a fresh view of the target, and how many of them see it down. */
  readonly voters: number
  readonly downVotes: number
  /** Down votes a quorum needs among the current voters (strict majority). */
  readonly needed: number
  /** The fresh observations the verdict was made of (for the FailoverEvent record). */
  readonly observations: readonly PeerObservation[]
}

/**
 * Health of a server as the failover decision sees it. `down` comes from the quorum,
 * `unhealthy` from the server's own heartbeat (HAProxy failing): neither may take traffic.
 */
export type ServerHealthState = 'healthy' | 'unhealthy' | 'down'

export interface ServerHealth {
  /** The server's public IP: the A record value that sends traffic to it. */
  readonly ip: string
  readonly state: ServerHealthState
  /** Start of the current, uninterrupted `state` (ms). A bounce restarts it: that is what the hold-down measures. */
  readonly since: number
}

/** The failover view of a Domain; structurally a subset of proto's Domain, so one can be passed as is. */
export interface FailoverDomain {
  readonly id: string
  readonly hostname: string
  /** Ordered: first = primary, then secondaries in order of preference. */
  readonly serverIds: readonly string[]
  readonly failover: {
    readonly enabled: boolean
    /** '' (unset on the wire) means 'failover'. */
    readonly mode: 'failover' | 'round-robin' | ''
    /** Cloudflare zone and the record name (full hostname) the engine manages. */
    readonly zone: string
    readonly record: string
  }
}

/** What the engine persists per domain (LevelDB) so decisions survive a restart. */
export interface DomainFailoverState {
  /** Set while failover-mode DNS points at a secondary instead of the primary. */
  readonly active: { readonly from: string, readonly to: string, readonly since: number } | null
  /** Last DNS switch made by the engine (failover, failback, round-robin change). */
  readonly lastSwitchAt: number | null
  /**
   * The failure already announced as no-healthy-secondary: the `since` of the failed
   * server's health. The event is sent once per failure, not once per decision.
   */
  readonly reportedNoHealthy: number | null
}

export const NO_FAILOVER_STATE: DomainFailoverState = Object.freeze({ active: null, lastSwitchAt: null, reportedNoHealthy: null })

export interface FailoverInput {
  readonly domains: readonly FailoverDomain[]
  /** By server id. A server missing here is unknown: never a target, never a failover trigger. */
  readonly servers: Readonly<Record<string, ServerHealth>>
  /** Current A record addresses by domain id (DnsProvider.getARecords); missing = not read yet. */
  readonly dns: Readonly<Record<string, readonly string[]>>
  /** Persisted state by domain id; missing = NO_FAILOVER_STATE. */
  readonly state: Readonly<Record<string, DomainFailoverState>>
  readonly now: number
  /** Default DEFAULT_HOLD_DOWN_MS. */
  readonly holdDownMs?: number
}

/** One DnsProvider call: `set` = the only A record (failover), `add`/`remove` = one of several (round-robin). */
export interface DnsOp {
  readonly op: 'set' | 'add' | 'remove'
  readonly zone: string
  readonly record: string
  readonly ip: string
}

export type FailoverReason =
  | 'primary-down' | 'primary-unhealthy' // failover-triggered away from the primary
  | 'target-down' | 'target-unhealthy' // failover-triggered away from a failed secondary
  | 'target-removed' // failover-triggered: the secondary in use is no longer assigned to the domain
  | 'primary-stable' // failover-recovered: primary healthy for the hold-down
  | 'secondary-failed' // failover-recovered early: the secondary failed, the primary is up

interface ActionBase {
  readonly domainId: string
  /** DNS calls to make first, in order; an empty list changes no DNS. */
  readonly dns: readonly DnsOp[]
  /** Persist this once the DNS calls succeeded; then record the event and notify. */
  readonly state: DomainFailoverState
}

export type FailoverAction =
  | ActionBase & { readonly type: 'failover-triggered', readonly from: string, readonly to: string, readonly reason: FailoverReason }
  | ActionBase & { readonly type: 'failover-recovered', readonly from: string, readonly to: string, readonly reason: FailoverReason }
  /** DNS does not show what the state says (e.g. crash between DNS write and state save): rewrite, no notification. */
  | ActionBase & { readonly type: 'dns-repair', readonly to: string }
  | ActionBase & { readonly type: 'round-robin-update', readonly removed: readonly string[], readonly restored: readonly string[] }
  /** Traffic should move but no server can take it: notify, change no DNS. */
  | ActionBase & { readonly type: 'no-healthy-secondary', readonly failed: string }
