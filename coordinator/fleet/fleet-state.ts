// FleetState: the coordinator's live picture of every account's shield servers. It joins
// each account's heartbeat and reports topics, validates what arrives (bounded; the gossip
// originator must be the enrolled peer of the server the message names, else rejected),
// feeds an AccountFleet per account (own SWIM view + peers' views + quorum), runs the
// direct probes it asks for, persists runtime statuses in its own table (fleet-status:
// status changes never create config versions), sends server_down (once per outage) and
// server_error, and tells the failover engine when anything changed.
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import { COORDINATOR_SERVER_ID, decodeHeartbeat } from '../../proto/heartbeat.ts'
import { isLumosError, LumosError } from '../../proto/lumos-error.ts'
import { heartbeatTopic, reportsTopic, scoreInvalidMessages } from '../../proto/mesh-peer.ts'
import { decodeReport, originOf } from '../../proto/report.ts'
import type { LivenessParams } from '../../node/liveness/constants.ts'
import type { QuorumTiming, ServerHealth } from '../failover/types.ts'
import type { ServerRecord } from '../model.ts'
import type { CoordinatorEvent } from '../notify/notifier.ts'
import type { CoordinatorStore, Table } from '../store/store.ts'
import { AccountFleet, type PersistedRuntime, type ServerRuntime } from './account-fleet.ts'

/** The parts of the coordinator's mesh peer the fleet state uses. */
export interface FleetMesh {
  readonly pubsub: GossipSub
  readonly peerId: string
  onAccount: (listener: (accountId: string) => void) => void
  isPartitioned: (peerId: string) => boolean
  probe: (peerId: string, signal: AbortSignal) => Promise<boolean>
}

export interface FleetStateInit {
  store: CoordinatorStore
  mesh: FleetMesh
  liveness: LivenessParams
  quorum: QuorumTiming
  /** Queues a notification durably (Notifier.notify); none sent when omitted. */
  notify?: (accountId: string, event: CoordinatorEvent) => Promise<unknown>
  logger: Logger
  now?: () => number
  /** Something changed in the account's statuses or failover health. */
  onChange?: (accountId: string) => void
}

/** Server records are re-read this often (enrolments, decommissions, new public IPs). */
const ROSTER_REFRESH_MS = 1000
/** lastSeen and friends are written at least this often even without a status change. */
const PERSIST_EVERY_MS = 30_000

interface AccountEntry {
  fleet: AccountFleet
  /** Every enrolled, not yet cut server by peer id, decommissioned ones included. */
  peers: Map<string, ServerRecord>
  /** Statuses persisted by a previous run, for servers first seen by this one. */
  saved: Map<string, PersistedRuntime>
  loadedAt: number
  persistedAt: number
  /** Roster reads started and the newest one applied: an older read finishing later is dropped. */
  rosterReads: number
  rosterApplied: number
}

export class FleetState {
  private readonly init: FleetStateInit
  private readonly now: () => number
  private readonly table: Table<PersistedRuntime>
  private readonly accounts = new Map<string, AccountEntry>()
  private readonly topics = new Map<string, { accountId: string, kind: 'heartbeat' | 'reports' }>()
  private readonly loading = new Map<string, Promise<AccountEntry>>()
  private readonly probing = new Set<string>()
  private readonly lastErrorKey = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor (init: FleetStateInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.table = init.store.table<PersistedRuntime>('fleet-status')
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.init.mesh.onAccount(accountId => { this.watch(accountId) })
    void this.loop()
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    const { pubsub } = this.init.mesh
    for (const topic of this.topics.keys()) { pubsub.unsubscribe(topic); pubsub.topicValidators.delete(topic) }
    this.topics.clear()
  }

  runtime (accountId: string, serverId: string): ServerRuntime | undefined {
    return this.accounts.get(accountId)?.fleet.runtime(serverId)
  }

  health (accountId: string): Record<string, ServerHealth> {
    return this.accounts.get(accountId)?.fleet.health() ?? {}
  }

  accountIds (): string[] {
    return [...this.accounts.keys()]
  }

  /**
   * Re-reads the account's servers now: an enrolment awaits it before it is answered, so the
   * new peer's first heartbeats find it in the roster. Otherwise they would wait for the
   * next refresh (up to a second, longer on a loaded machine), be rejected as from an
   * unknown peer and score it down: a few of them graylist it, and the coordinator then
   * stops sending it config versions.
   */
  async rosterChanged (accountId: string): Promise<void> {
    await this.refresh(accountId)
  }

  /** The peer id the account's roster binds to `serverId` (enrolled, active). */
  peerOf (accountId: string, serverId: string): string | undefined {
    return this.accounts.get(accountId)?.fleet.peerOf(serverId)
  }

  private watch (accountId: string): void {
    const { pubsub } = this.init.mesh
    for (const kind of ['heartbeat', 'reports'] as const) {
      const topic = kind === 'heartbeat' ? heartbeatTopic(accountId) : reportsTopic(accountId)
      if (this.topics.has(topic)) continue
      this.topics.set(topic, { accountId, kind })
      pubsub.topicValidators.set(topic, async (from, message) => {
        const verdict = await this.validate(message, from.toString())
        if (verdict !== TopicValidatorResult.Accept) return verdict
        // The coordinator is where heartbeats and reports end: taken here, not forwarded
        // (nodes send their own to every peer that needs them; docs/decisions/002-gossipsub.md).
        try {
          this.handle(message, from.toString())
        } catch (err) {
          this.init.logger.error({ err, account: accountId }, `${kind} message not handled`)
        }
        return TopicValidatorResult.Ignore
      })
      // A peer whose messages are rejected is scored down, as on the config topic: three and
      // it is graylisted (its gossip ignored) until the penalty decays.
      scoreInvalidMessages(pubsub, topic)
      pubsub.subscribe(topic)
    }
    if (!this.accounts.has(accountId)) void this.refresh(accountId).catch(err => { this.init.logger.error({ err, account: accountId }, 'fleet roster not loaded; retrying') })
  }

  /**
   * Gossip validator of both topics: accept only what a server's own peer sent about itself.
   * Nothing on these topics is forwarded (heartbeats and reports travel one hop), so the
   * peer that sent a message, authenticated by the noise handshake, is its originator.
   */
  private async validate (message: Message, originator: string): Promise<TopicValidatorResult> {
    const topic = this.topics.get(message.topic)
    if (topic === undefined) return TopicValidatorResult.Ignore
    try {
      const claim = topic.kind === 'heartbeat' ? decodeHeartbeat(message.data) : originOf(decodeReport(message.data))
      if (originator === this.init.mesh.peerId) return TopicValidatorResult.Ignore
      if (claim.serverId === COORDINATOR_SERVER_ID) throw new LumosError('UNKNOWN_PEER', `peer ${originator} claims to be the coordinator`)
      let record = this.accounts.get(topic.accountId)?.peers.get(originator)
      if (record === undefined && await this.refresh(topic.accountId, true)) record = this.accounts.get(topic.accountId)?.peers.get(originator)
      if (this.accounts.get(topic.accountId) === undefined) return TopicValidatorResult.Ignore
      if (record === undefined) throw new LumosError('UNKNOWN_PEER', `message from peer ${originator}, which is no enrolled server of the account`)
      if (claim.peerId !== originator || claim.serverId !== record.id) {
        throw new LumosError('UNKNOWN_PEER', `peer ${originator} claims to be ${claim.serverId} (${claim.peerId}); enrolment binds it to ${record.id}`)
      }
      // Decommissioned (in grace) or cut off by a partition drill: not news, not an offence.
      if (record.status === 'decommissioned' || this.init.mesh.isPartitioned(originator)) return TopicValidatorResult.Ignore
      return TopicValidatorResult.Accept
    } catch (err) {
      const code = isLumosError(err) ? err.code : 'MALFORMED_MESSAGE'
      this.init.logger.warn({ account: topic.accountId, peer: originator, code, reason: (err as Error).message }, `${topic.kind} message rejected`)
      return TopicValidatorResult.Reject
    }
  }

  /** An accepted message (validate() said so: it decodes and its sender is known). */
  private handle (message: Message, originator: string): void {
    const topic = this.topics.get(message.topic)
    const entry = topic === undefined ? undefined : this.accounts.get(topic.accountId)
    if (topic === undefined || entry === undefined) return
    const serverId = entry.fleet.serverOfPeer(originator)
    if (serverId === undefined) return
    const now = this.now()
    if (topic.kind === 'heartbeat') {
      entry.fleet.heartbeat(serverId, decodeHeartbeat(message.data), now)
      return
    }
    const report = decodeReport(message.data)
    entry.fleet.report(serverId, report, now)
    if (report.serverError != null) void this.serverError(topic.accountId, entry, serverId, report.serverError)
  }

  private async serverError (accountId: string, entry: AccountEntry, serverId: string, report: { type: string, message: string, version: number, sentAtMs: number }): Promise<void> {
    const key = `${report.type}|${report.version}|${report.sentAtMs}`
    if (this.lastErrorKey.get(serverId) === key) return // the node's outbox re-sent it
    this.lastErrorKey.set(serverId, key)
    const serverName = entry.peers.get(entry.fleet.peerOf(serverId) ?? '')?.name
    this.init.logger.warn({ account: accountId, server: serverId, type: report.type, version: report.version, node: { message: report.message } }, 'server reported an error')
    try {
      await this.init.notify?.(accountId, { type: 'server_error', data: { serverId, serverName, type: report.type, message: report.message } })
    } catch (err) {
      this.init.logger.error({ err, account: accountId, server: serverId }, 'server_error notification not queued')
    }
  }

  /** Re-reads the account's servers; `onDemand` ones (unknown peer) at most once a second. True when it re-read. */
  private async refresh (accountId: string, onDemand = false): Promise<boolean> {
    const existing = this.accounts.get(accountId)
    if (onDemand && existing !== undefined && this.now() - existing.loadedAt < ROSTER_REFRESH_MS) return false
    const entry = existing ?? await this.entryOf(accountId)
    const read = ++entry.rosterReads
    const records = await this.init.store.listServers(accountId)
    // The periodic refresh may have started before an enrolment's own one and end after it:
    // its older list must not take the new peer out of the roster again.
    if (read < entry.rosterApplied) return true
    entry.rosterApplied = read
    const now = this.now()
    entry.peers = new Map(records.filter(r => r.peerId !== '' && r.cutAt == null).map(r => [r.peerId, r]))
    entry.fleet.setRoster(records, id => entry.saved.get(id), now)
    entry.loadedAt = now
    return true
  }

  /** The account's entry, created once with the statuses persisted by a previous run. */
  private async entryOf (accountId: string): Promise<AccountEntry> {
    let loading = this.loading.get(accountId)
    if (loading === undefined) {
      loading = (async () => {
        const saved = new Map<string, PersistedRuntime>()
        for await (const [key, value] of this.table.sub.iterator({ gt: `${accountId}!`, lt: `${accountId}!\xff` })) {
          saved.set(String(key).slice(accountId.length + 1), value as PersistedRuntime)
        }
        const now = this.now()
        const entry: AccountEntry = { fleet: new AccountFleet(accountId, this.init.liveness, this.init.quorum), peers: new Map(), saved, loadedAt: 0, persistedAt: now, rosterReads: 0, rosterApplied: 0 }
        this.accounts.set(accountId, entry)
        return entry
      })()
      this.loading.set(accountId, loading)
    }
    return await loading
  }

  private async loop (): Promise<void> {
    try {
      await this.round()
    } catch (err) {
      this.init.logger.error({ err }, 'fleet state round failed; next round retries')
    }
    if (!this.running) return
    this.timer = setTimeout(() => { void this.loop() }, Math.min(this.init.liveness.tickIntervalMs, 100))
  }

  private async round (): Promise<void> {
    for (const [accountId, entry] of this.accounts) {
      if (this.now() - entry.loadedAt >= ROSTER_REFRESH_MS) await this.refresh(accountId)
      for (const serverId of entry.fleet.tick(this.now())) this.probe(entry, serverId)
      const changes = entry.fleet.evaluate(this.now())
      const persistAll = this.now() - entry.persistedAt >= PERSIST_EVERY_MS
      for (const serverId of persistAll ? entry.fleet.serverIds() : changes.changed) await this.persist(accountId, entry, serverId)
      if (persistAll) entry.persistedAt = this.now()
      for (const serverId of changes.changed) {
        const r = entry.fleet.runtime(serverId)
        this.init.logger.info({ account: accountId, server: serverId, status: r?.status, health: r?.health?.state, quorum: r?.verdict.reason }, 'server status changed')
      }
      for (const serverId of changes.newlyDown) await this.serverDown(accountId, entry, serverId)
      if (changes.changed.length > 0) this.init.onChange?.(accountId)
    }
  }

  private probe (entry: AccountEntry, serverId: string): void {
    const peerId = entry.fleet.peerOf(serverId)
    if (peerId === undefined || this.probing.has(peerId)) return
    this.probing.add(peerId)
    this.init.mesh.probe(peerId, AbortSignal.timeout(Math.max(100, this.init.liveness.probeTimeoutMs)))
      .then(ok => { entry.fleet.probeResult(serverId, ok, this.now()) }, () => { entry.fleet.probeResult(serverId, false, this.now()) })
      .finally(() => { this.probing.delete(peerId) })
  }

  private async serverDown (accountId: string, entry: AccountEntry, serverId: string): Promise<void> {
    const runtime = entry.fleet.runtime(serverId)
    const serverName = entry.peers.get(entry.fleet.peerOf(serverId) ?? '')?.name
    this.init.logger.warn({ account: accountId, server: serverId, quorum: runtime?.verdict.reason, voters: runtime?.verdict.voters, downVotes: runtime?.verdict.downVotes }, 'server down by quorum')
    try {
      await this.init.notify?.(accountId, { type: 'server_down', data: { serverId, serverName, reason: runtime?.verdict.reason } })
    } catch (err) {
      entry.fleet.notifyFailed(serverId)
      this.init.logger.error({ err, account: accountId, server: serverId }, 'server_down notification not queued; retrying')
    }
    await this.persist(accountId, entry, serverId)
  }

  private async persist (accountId: string, entry: AccountEntry, serverId: string): Promise<void> {
    const r = entry.fleet.runtime(serverId)
    if (r === undefined) return
    const value: PersistedRuntime = { status: r.status, statusSince: r.statusSince, lastSeen: r.lastSeen, appliedVersion: r.appliedVersion, outage: r.outage, lastError: r.lastError }
    await this.table.put(`${accountId}!${serverId}`, value)
  }
}
