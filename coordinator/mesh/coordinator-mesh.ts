// The coordinator as a peer of the mesh: publishes each account's signed versions on its
// config topic, announces each account's head on its heartbeat topic (server_id
// "coordinator") so a node that missed versions learns it, and answers /lumos/sync/1 from
// the store. Only enrolled servers' peers may connect (connection gater).
// Operator drill: partition(peer, ms) denies and hangs up one peer for a while, to check
// that a coordinator-only partition moves no DNS (the API route: coordinator/api/failover.ts).
import type { Identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Logger } from 'pino'
import { watchGraylist } from '../../proto/graylist-watch.ts'
import { COORDINATOR_SERVER_ID, HeartbeatPublisher, type OutgoingHeartbeat } from '../../proto/heartbeat.ts'
import { configTopic, createMeshPeer, heartbeatTopic, type MeshPeer } from '../../proto/mesh-peer.ts'
import { loadOrCreatePeerKey } from '../../proto/peer-key-file.ts'
import { serveSync } from '../../proto/sync-protocol.ts'
import type { CoordinatorStore } from '../store/store.ts'

export interface CoordinatorMeshInit {
  store: CoordinatorStore
  peerKeyPath: string
  listen: string[]
  logger: Logger
  /** Interval of the head heartbeats; HEARTBEAT_INTERVAL_MS when omitted. */
  heartbeatIntervalMs?: number
}

export class CoordinatorMesh {
  private readonly init: CoordinatorMeshInit
  private readonly allowed = new Set<string>()
  /** Accounts whose topics this peer serves: heads are announced for these. */
  private readonly accounts = new Set<string>()
  private readonly accountListeners: Array<(accountId: string) => void> = []
  /** peer id → end of its partition drill (ms). */
  private readonly partitioned = new Map<string, number>()
  private peer: MeshPeer | undefined
  private heartbeat: HeartbeatPublisher | undefined
  private stopGraylistWatch: () => void = () => {}

  constructor (init: CoordinatorMeshInit) {
    this.init = init
  }

  get libp2p (): MeshPeer {
    if (this.peer === undefined) throw new Error('coordinator mesh not started')
    return this.peer
  }

  async start (): Promise<void> {
    const { store, logger } = this.init
    for (const account of await store.listAccounts()) {
      for (const server of await store.listServers(account.id)) {
        if (server.peerId !== '' && server.status !== 'decommissioned') this.allowed.add(server.peerId)
      }
    }
    this.peer = await createMeshPeer({
      privateKey: await loadOrCreatePeerKey(this.init.peerKeyPath),
      listen: this.init.listen,
      isPeerAllowed: (peer) => this.allowed.has(peer.toString()) && !this.isPartitioned(peer.toString())
    })
    this.stopGraylistWatch = watchGraylist(this.peer, logger)
    await serveSync(this.peer, async (request) => {
      const head = await store.getHead(request.accountId)
      if (head === undefined || head.version <= request.haveVersion) return []
      const latest = await store.getVersion(request.accountId, head.version)
      return latest === undefined ? [] : [latest]
    })
    for (const account of await store.listAccounts()) {
      this.addAccount(account.id)
      this.peer.services.pubsub.subscribe(configTopic(account.id))
    }
    const peer = this.peer
    this.heartbeat = new HeartbeatPublisher({
      publish: async (topic, bytes) => { await peer.services.pubsub.publish(topic, bytes) },
      beats: async () => await this.headBeats(),
      logger: logger.child({ component: 'heartbeat' }),
      intervalMs: this.init.heartbeatIntervalMs
    })
    this.heartbeat.start()
    logger.info({ peer: this.peer.peerId.toString(), addrs: this.multiaddrs() }, 'coordinator joined the mesh')
  }

  allowPeer (peerId: string): void {
    this.allowed.add(peerId)
  }

  /** Cuts a peer for good (decommission grace ended): out of the gater's allowed set, hung up. */
  async denyPeer (peerId: string): Promise<void> {
    this.allowed.delete(peerId)
    await this.libp2p.hangUp(peerIdFromString(peerId))
    this.init.logger.info({ peer: peerId }, 'peer denied and hung up')
  }

  /** Calls `listener` for every account this peer serves, now and whenever one is added. */
  onAccount (listener: (accountId: string) => void): void {
    this.accountListeners.push(listener)
    for (const accountId of this.accounts) listener(accountId)
  }

  /**
   * Partition drill: for `ms`, the gater refuses `peerId` both ways and its connections are
   * closed now. The peer's nodes keep redialling and are let in again once it ends.
   */
  async partition (peerId: string, ms: number): Promise<void> {
    this.partitioned.set(peerId, Date.now() + ms)
    await this.libp2p.hangUp(peerIdFromString(peerId))
    this.init.logger.warn({ peer: peerId, ms }, 'partition drill: peer denied and hung up')
  }

  isPartitioned (peerId: string): boolean {
    const until = this.partitioned.get(peerId)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.partitioned.delete(peerId)
    return false
  }

  /**
   * Direct liveness probe (the coordinator's own SWIM view): one identify round trip over
   * an open or freshly dialled connection. False on any failure, refusal or abort.
   */
  async probe (peerId: string, signal: AbortSignal): Promise<boolean> {
    try {
      const id = peerIdFromString(peerId)
      const connection = this.libp2p.getConnections(id).find(c => c.status === 'open') ?? await this.libp2p.dial(id, { signal })
      await (this.libp2p.services.identify as Identify).identify(connection, { signal })
      return true
    } catch {
      return false
    }
  }

  /** Open connections to `peerId` (0 when cut off). */
  connectionCount (peerId: string): number {
    return this.libp2p.getConnections(peerIdFromString(peerId)).length
  }

  private addAccount (accountId: string): void {
    if (this.accounts.has(accountId)) return
    this.accounts.add(accountId)
    for (const listener of this.accountListeners) listener(accountId)
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  async publish (accountId: string, envelope: Uint8Array): Promise<void> {
    const topic = configTopic(accountId)
    const pubsub = this.libp2p.services.pubsub
    if (!pubsub.getTopics().includes(topic)) pubsub.subscribe(topic)
    this.addAccount(accountId)
    const result = await pubsub.publish(topic, envelope)
    this.init.logger.debug({ account: accountId, recipients: result.recipients.length }, 'config version published')
  }

  /** One heartbeat per account with a signed head: its version and payload hash. */
  private async headBeats (): Promise<OutgoingHeartbeat[]> {
    const peerId = this.libp2p.peerId.toString()
    const beats: OutgoingHeartbeat[] = []
    for (const accountId of this.accounts) {
      const head = await this.init.store.getHead(accountId)
      if (head === undefined) continue
      beats.push({
        topic: heartbeatTopic(accountId),
        heartbeat: { serverId: COORDINATOR_SERVER_ID, peerId, appliedVersion: head.version, appliedHash: Buffer.from(head.hash, 'hex'), sentAtMs: Date.now(), haproxyHealthy: true }
      })
    }
    return beats
  }

  async stop (): Promise<void> {
    this.stopGraylistWatch()
    this.heartbeat?.stop()
    await this.peer?.stop()
  }
}
