// The coordinator's view of one account's shield servers, without IO: its own SWIM failure
// detector per server (node/liveness, fed by the heartbeats it receives — relayed ones
// too: a heartbeat signed by the server's peer key proves the server is alive), the
// latest views its peers reported, the quorum verdict (coordinator/failover/quorum.ts)
// and from those the runtime status (online / offline / error) and the failover health.
// The shell (fleet-state.ts) feeds it messages and ticks, runs the probes it asks for,
// persists the statuses and sends the notifications it returns.
import type { Heartbeat, Report } from '../../proto/codec.ts'
import { COORDINATOR_SERVER_ID } from '../../proto/heartbeat.ts'
import type { PeerObservation, PeerView } from '../../proto/observation.ts'
import { initialPeerLiveness, observe, viewOf, type LivenessEvent, type PeerLiveness } from '../../node/liveness/liveness.ts'
import type { LivenessParams } from '../../node/liveness/constants.ts'
import { isDownByQuorum } from '../failover/quorum.ts'
import type { QuorumTiming, QuorumVerdict, ServerHealth, ServerHealthState } from '../failover/types.ts'
import type { ServerRecord } from '../model.ts'

/** A ServerErrorReport keeps the server in `error` this long (unless a newer one comes). */
export const ERROR_STATUS_MS = 5 * 60_000

export type RuntimeStatus = 'online' | 'offline' | 'error'

export interface ServerErrorInfo { type: string, message: string, version: number, at: number }

/** What is persisted per server (table fleet-status), so a restart keeps statuses and outages. */
export interface PersistedRuntime {
  status: RuntimeStatus
  statusSince: number
  lastSeen: number | null
  appliedVersion: number | null
  /** The current outage (down by quorum) and whether server_down went out for it. */
  outage: { since: number, notified: boolean } | null
  lastError: ServerErrorInfo | null
}

export interface ServerRuntime extends PersistedRuntime {
  serverId: string
  haproxyHealthy: boolean
  coordinatorView: PeerObservation['state']
  verdict: QuorumVerdict
  health: ServerHealth | null
}

interface Member extends PersistedRuntime {
  record: ServerRecord
  liveness: PeerLiveness
  haproxyHealthy: boolean
  verdict: QuorumVerdict | undefined
  healthState: ServerHealthState
  healthSince: number
}

export interface FleetChanges {
  /** Servers whose status or failover health changed: persist them and re-decide failover. */
  changed: string[]
  /** Servers newly down by quorum whose outage was not announced yet: send server_down. */
  newlyDown: string[]
}

export class AccountFleet {
  readonly accountId: string
  private readonly params: LivenessParams
  private readonly quorum: QuorumTiming
  private readonly members = new Map<string, Member>()
  private readonly byPeer = new Map<string, string>()
  /** observer server id → its latest views (by target) and its report's sent_at_ms. */
  private readonly reports = new Map<string, { sentAtMs: number, views: PeerObservation[] }>()

  constructor (accountId: string, params: LivenessParams, quorum: QuorumTiming) {
    this.accountId = accountId
    // The coordinator's own view is direct evidence only; the peers' indirect evidence
    // reaches it in their reports, and the quorum weighs the two.
    this.params = { ...params, indirectProbes: 0 }
    this.quorum = quorum
  }

  /** Servers taking part in the mesh: enrolled, not decommissioned. Others leave the view. */
  setRoster (records: readonly ServerRecord[], persisted: (serverId: string) => PersistedRuntime | undefined, now: number): void {
    const active = records.filter(r => r.peerId !== '' && r.status !== 'decommissioned' && r.cutAt == null)
    const ids = new Set(active.map(r => r.id))
    for (const id of this.members.keys()) if (!ids.has(id)) this.members.delete(id)
    this.byPeer.clear()
    for (const record of active) {
      this.byPeer.set(record.peerId, record.id)
      const member = this.members.get(record.id)
      if (member !== undefined) { member.record = record; continue }
      const saved = persisted(record.id)
      // A server that was offline stays so until it is heard again (no presumed life after a restart).
      const liveness = saved?.status === 'offline'
        ? { ...initialPeerLiveness(now), status: 'down' as const }
        : initialPeerLiveness(now)
      this.members.set(record.id, {
        status: saved?.status ?? 'online',
        statusSince: saved?.statusSince ?? now,
        lastSeen: saved?.lastSeen ?? null,
        appliedVersion: saved?.appliedVersion ?? null,
        outage: saved?.outage ?? null,
        lastError: saved?.lastError ?? null,
        record,
        liveness,
        haproxyHealthy: true,
        verdict: undefined,
        healthState: saved?.status === 'offline' ? 'down' : 'healthy',
        healthSince: now
      })
    }
  }

  serverOfPeer (peerId: string): string | undefined {
    return this.byPeer.get(peerId)
  }

  peerOf (serverId: string): string | undefined {
    return this.members.get(serverId)?.record.peerId
  }

  heartbeat (serverId: string, heartbeat: Heartbeat, now: number): void {
    const member = this.members.get(serverId)
    if (member === undefined) return
    member.lastSeen = now
    member.appliedVersion = heartbeat.appliedVersion
    member.haproxyHealthy = heartbeat.haproxyHealthy
    this.step(member, { type: 'heartbeat', haproxyHealthy: heartbeat.haproxyHealthy }, now)
  }

  probeResult (serverId: string, ok: boolean, now: number): void {
    const member = this.members.get(serverId)
    if (member !== undefined) this.step(member, { type: ok ? 'probe-ok' : 'probe-failed' }, now)
  }

  /** A report checked by proto/report.ts decodeReport whose originator is `serverId`'s peer. */
  report (serverId: string, report: Report, now: number): void {
    if (report.serverError != null) {
      const member = this.members.get(serverId)
      const { type, message, version } = report.serverError
      if (member !== undefined) member.lastError = { type, message, version, at: now }
      return
    }
    if (report.observations == null) return
    const previous = this.reports.get(serverId)
    if (previous !== undefined && report.observations.sentAtMs < previous.sentAtMs) return // reordered by gossip
    const views = report.observations.views
      .filter(v => v.targetServerId !== serverId && this.members.has(v.targetServerId))
      // `state` was checked by decodeReport; the age is the observer's word, so bounded by now.
      .map(v => ({ observerId: serverId, targetId: v.targetServerId, state: v.state as PeerView, since: now - Math.max(0, v.ageMs), at: now }))
    this.reports.set(serverId, { sentAtMs: report.observations.sentAtMs, views })
  }

  /** Advances every timer; returns the servers to probe directly now. */
  tick (now: number): string[] {
    const probes: string[] = []
    for (const member of this.members.values()) {
      if (this.step(member, { type: 'tick' }, now)) probes.push(member.record.id)
    }
    for (const [observer, report] of this.reports) {
      if (report.views.every(v => now - v.at > this.quorum.freshnessMs) || !this.members.has(observer)) this.reports.delete(observer)
    }
    return probes
  }

  /** Re-judges every server from the current views and the quorum rule. */
  evaluate (now: number): FleetChanges {
    const observations = this.observations(now)
    const fleet = [...this.members.keys()]
    const rule = { ...this.quorum, coordinatorId: COORDINATOR_SERVER_ID, fleet }
    const changes: FleetChanges = { changed: [], newlyDown: [] }
    for (const member of this.members.values()) {
      const id = member.record.id
      const verdict = isDownByQuorum(observations, id, now, rule)
      member.verdict = verdict
      const view = viewOf(member.liveness)
      const healthState: ServerHealthState = verdict.down ? 'down' : view === 'unhealthy' ? 'unhealthy' : 'healthy'
      const erroring = member.lastError !== null && now - member.lastError.at < ERROR_STATUS_MS
      const status: RuntimeStatus = verdict.down ? 'offline' : view === 'unhealthy' || erroring ? 'error' : 'online'
      let changed = false
      if (healthState !== member.healthState) { member.healthState = healthState; member.healthSince = now; changed = true }
      if (status !== member.status) { member.status = status; member.statusSince = now; changed = true }
      if (verdict.down && (member.outage === null || !member.outage.notified)) {
        member.outage = { since: member.outage?.since ?? now, notified: true }
        changes.newlyDown.push(id)
        changed = true
      } else if (!verdict.down && member.outage !== null && member.lastSeen !== null && member.lastSeen > member.outage.since) {
        member.outage = null // heard again: the next down is a new outage
        changed = true
      }
      if (changed) changes.changed.push(id)
    }
    return changes
  }

  /** The shell could not queue server_down: try again on the next evaluation. */
  notifyFailed (serverId: string): void {
    const member = this.members.get(serverId)
    if (member?.outage != null) member.outage = { ...member.outage, notified: false }
  }

  /** Failover health by server id: servers without a public IP can neither fail over nor take traffic. */
  health (): Record<string, ServerHealth> {
    const out: Record<string, ServerHealth> = {}
    for (const member of this.members.values()) {
      if (member.record.publicIp === '') continue
      out[member.record.id] = { ip: member.record.publicIp, state: member.healthState, since: member.healthSince }
    }
    return out
  }

  runtime (serverId: string): ServerRuntime | undefined {
    const member = this.members.get(serverId)
    if (member === undefined || member.verdict === undefined) return undefined
    return {
      serverId,
      status: member.status,
      statusSince: member.statusSince,
      lastSeen: member.lastSeen,
      appliedVersion: member.appliedVersion,
      outage: member.outage,
      lastError: member.lastError,
      haproxyHealthy: member.haproxyHealthy,
      coordinatorView: viewOf(member.liveness),
      verdict: member.verdict,
      health: this.health()[serverId] ?? null
    }
  }

  serverIds (): string[] {
    return [...this.members.keys()]
  }

  /** The coordinator's own views (produced now) and the peers' reported views. */
  private observations (now: number): PeerObservation[] {
    const own = [...this.members.values()].map(m => ({ observerId: COORDINATOR_SERVER_ID, targetId: m.record.id, state: viewOf(m.liveness), since: m.liveness.since, at: now }))
    return [...own, ...[...this.reports.values()].flatMap(r => r.views)]
  }

  /** One liveness step; true when it asks for a direct probe. */
  private step (member: Member, event: LivenessEvent, now: number): boolean {
    const next = observe(member.liveness, event, now, this.params)
    member.liveness = next.state
    return next.actions.some(a => a.type === 'send-direct-probe')
  }
}
