// The shield node's side of the mesh: joins the account's config topic with a validator,
// keeps connections to the coordinator and to every server of the latest signed version
// (and only those: connection gater), and pulls missing versions over /lumos/sync/1
// through one CatchUp (one sync at a time): when a peer connects, and when a heartbeat
// (node/mesh/heartbeat.ts) shows a peer holding a newer version.
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import type { ConfigVersion, SignedEnvelope, SyncRequest } from '../../proto/codec.ts'
import { COORDINATOR_SERVER_ID } from '../../proto/heartbeat.ts'
import { watchGraylist } from '../../proto/graylist-watch.ts'
import { LumosError } from '../../proto/lumos-error.ts'
import { createMeshPeer, scoreInvalidMessages, type MeshPeer } from '../../proto/mesh-peer.ts'
import { requestSync, serveSync } from '../../proto/sync-protocol.ts'
import { CatchUp, type CatchUpRetry } from './catch-up.ts'

export type Verdict = 'accept' | 'reject' | 'ignore'

export interface NodeMeshInit {
  privateKey: Parameters<typeof createMeshPeer>[0]['privateKey']
  listen: string[]
  logger: Logger
  /** Judges a gossip message before it is forwarded (signature, account, version). */
  validate: (data: Uint8Array, from: PeerId) => Verdict
  /** Receives every accepted gossip message and every envelope fetched by sync. */
  onEnvelope: (envelope: Uint8Array | SignedEnvelope, from: string) => Promise<void>
  /** What this node has, for answering and sending sync requests. */
  syncSource: (request: SyncRequest) => Promise<Uint8Array[]>
  haveVersion: () => number
  /** Retry policy of catch-up syncs (defaults: CATCH_UP_RETRY). */
  catchUpRetry?: Partial<CatchUpRetry>
}

const REDIAL_MS = 2000

export class NodeMesh {
  private readonly init: NodeMeshInit
  private readonly allowed = new Set<string>()
  private readonly dialTargets = new Map<string, string[]>()
  /** peer id → server id, from the latest signed version. */
  private readonly serverIds = new Map<string, string>()
  private readonly catchUp: CatchUp
  private coordinatorPeerId = ''
  private peer: MeshPeer | undefined
  private topic = ''
  private accountId = ''
  private redialTimer: NodeJS.Timeout | undefined
  private stopGraylistWatch: () => void = () => {}

  constructor (init: NodeMeshInit) {
    this.init = init
    this.catchUp = new CatchUp({
      heldVersion: init.haveVersion,
      fetchFrom: async (peerId, signal) => { await this.fetchFrom(peerId, signal) },
      logger: init.logger.child({ component: 'catch-up' }),
      retry: init.catchUpRetry
    })
  }

  get libp2p (): MeshPeer {
    if (this.peer === undefined) throw new Error('node mesh not started')
    return this.peer
  }

  /** Starts listening; nobody may connect until join() names the coordinator. */
  async start (): Promise<void> {
    this.peer = await createMeshPeer({
      privateKey: this.init.privateKey,
      listen: this.init.listen,
      isPeerAllowed: (peer) => this.allowed.has(peer.toString())
    })
    this.stopGraylistWatch = watchGraylist(this.peer, this.init.logger)
    await serveSync(this.peer, this.init.syncSource)
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  /** Joins the account topic and connects to the coordinator's bootstrap addresses. */
  join (accountId: string, topic: string, coordinatorPeerId: string, bootstrap: string[]): void {
    const peer = this.libp2p
    const pubsub = peer.services.pubsub
    this.topic = topic
    this.accountId = accountId
    this.coordinatorPeerId = coordinatorPeerId
    this.allowed.add(coordinatorPeerId)
    this.dialTargets.set(coordinatorPeerId, bootstrap)
    scoreInvalidMessages(pubsub, topic)
    pubsub.topicValidators.set(topic, (from, message) => {
      const verdict = this.init.validate(message.data, from)
      return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.addEventListener('gossipsub:message', (event) => {
      const { msg, propagationSource } = event.detail
      if (msg.topic !== this.topic) return
      const from = propagationSource.toString()
      this.init.onEnvelope(msg.data, from).catch(err => this.init.logger.warn({ err, peer: from }, 'gossiped envelope not applied'))
    })
    pubsub.subscribe(topic)
    peer.addEventListener('peer:connect', (event) => { this.syncFrom(event.detail) })
    this.redialTimer = setInterval(() => { void this.dialMissing() }, REDIAL_MS)
    void this.dialMissing()
  }

  /** Follows a new signed version: its servers become the allow-list and dial targets. */
  follow (config: ConfigVersion, selfPeerId: string, coordinatorPeerId: string): void {
    const listed = new Set([coordinatorPeerId])
    this.coordinatorPeerId = coordinatorPeerId
    this.serverIds.clear()
    for (const server of config.servers) {
      if (server.peerId === '' || server.peerId === selfPeerId) continue
      listed.add(server.peerId)
      this.serverIds.set(server.peerId, server.id)
      this.dialTargets.set(server.peerId, server.multiaddrs)
    }
    for (const peerId of [...this.allowed]) {
      if (listed.has(peerId)) continue
      this.allowed.delete(peerId)
      this.dialTargets.delete(peerId)
      this.catchUp.forget(peerId)
      this.init.logger.info({ peer: peerId }, 'peer no longer in the signed config; disconnecting')
      void this.libp2p.hangUp(peerIdFromString(peerId)).catch(() => {})
    }
    for (const peerId of listed) this.allowed.add(peerId)
    void this.dialMissing()
  }

  private async dialMissing (): Promise<void> {
    const peer = this.libp2p
    // From the connections' own peer ids, whose strings are cached: getPeers() rebuilds every
    // peer id from its string and back, and this runs for every version and every REDIAL_MS.
    const connected = new Set(peer.getConnections().map(connection => connection.remotePeer.toString()))
    await Promise.all([...this.dialTargets].filter(([peerId]) => !connected.has(peerId)).map(async ([, addrs]) => {
      for (const addr of addrs) {
        try {
          await peer.dial(multiaddr(addr), { signal: AbortSignal.timeout(3000) })
          return
        } catch (err) {
          this.init.logger.debug({ err, addr }, 'dial failed; will retry')
        }
      }
    }))
  }

  /**
   * The server id the latest signed version binds to `peerId` (COORDINATOR_SERVER_ID for
   * the coordinator); undefined for a peer outside the allow-list.
   */
  serverIdOf (peerId: string): string | undefined {
    if (!this.allowed.has(peerId)) return undefined
    return peerId === this.coordinatorPeerId ? COORDINATOR_SERVER_ID : this.serverIds.get(peerId)
  }

  /** A peer says (heartbeat) it holds `version`: catch up from it when that is newer. */
  noteClaim (peerId: string, version: number): void {
    if (this.allowed.has(peerId)) this.catchUp.noteClaim(peerId, version)
  }

  /** Asks a freshly connected peer, once and through catch-up, for versions newer than ours. */
  syncFrom (remote: PeerId): void {
    if (this.allowed.has(remote.toString())) this.catchUp.noteConnected(remote.toString())
  }

  /**
   * One /lumos/sync/1 exchange with `peerId`. It may be a relay: every envelope goes to
   * onEnvelope, which verifies it against the pinned key; throws when either fails.
   */
  private async fetchFrom (peerId: string, signal: AbortSignal): Promise<void> {
    if (!this.allowed.has(peerId)) throw new LumosError('UNKNOWN_PEER', `peer ${peerId} is not in the latest signed config; not syncing from it`)
    const envelopes = await requestSync(this.libp2p, peerIdFromString(peerId), { accountId: this.accountId, haveVersion: this.init.haveVersion() }, signal)
    for (const envelope of envelopes) await this.init.onEnvelope(envelope, peerId)
  }

  async stop (): Promise<void> {
    this.stopGraylistWatch()
    clearInterval(this.redialTimer)
    await this.catchUp.stop()
    await this.peer?.stop()
  }
}
