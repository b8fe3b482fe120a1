// The shield node's heartbeats on lumos/<account>/heartbeat/1: publishes what this node
// holds about every second, and takes the heartbeats of others in the gossip validator.
// They travel one hop: each node floods its own to every peer it is connected to (it dials
// every server of the signed config), and no copy is forwarded, so the peer that sent it
// (authenticated by the noise handshake) is its originator. A heartbeat is accepted only
// from a peer of the latest signed config (or the coordinator) naming itself: the
// claimed version then goes to catch-up, which fetches and verifies it, and the heartbeats
// of shield servers feed the failure detector (onHeartbeat → node/liveness).
// (Not to be confused with gossipsub's own mesh-maintenance heartbeat.)
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { Heartbeat } from '../../proto/codec.ts'
import { COORDINATOR_SERVER_ID, decodeHeartbeat, HeartbeatPublisher } from '../../proto/heartbeat.ts'
import { LumosError, isLumosError } from '../../proto/lumos-error.ts'
import { scoreInvalidMessages } from '../../proto/mesh-peer.ts'

export interface NodeHeartbeatInit {
  pubsub: GossipSub
  topic: string
  /** This node's heartbeat now (held version and hash). */
  self: () => Heartbeat
  /**
   * The server id the latest signed config binds to `peerId` ('coordinator' for the
   * coordinator); undefined when the peer may not take part in the mesh.
   */
  serverIdOf: (peerId: string) => string | undefined
  /** Receives the version each accepted heartbeat claims. */
  onClaim: (peerId: string, version: number) => void
  /** Receives every accepted heartbeat of a shield server (not the coordinator's): the failure detector's input. */
  onHeartbeat?: (peerId: string, heartbeat: Heartbeat) => void
  logger: Logger
  intervalMs?: number
}

export class NodeHeartbeat {
  private readonly init: NodeHeartbeatInit
  private readonly publisher: HeartbeatPublisher
  constructor (init: NodeHeartbeatInit) {
    this.init = init
    this.publisher = new HeartbeatPublisher({
      publish: async (topic, bytes) => { await init.pubsub.publish(topic, bytes) },
      beats: () => [{ topic: init.topic, heartbeat: init.self() }],
      logger: init.logger,
      intervalMs: init.intervalMs
    })
  }

  start (): void {
    const { pubsub, topic } = this.init
    pubsub.topicValidators.set(topic, (from, message) => {
      const heartbeat = this.validate(message, from)
      if (heartbeat === undefined) return TopicValidatorResult.Reject
      this.deliver(heartbeat.peerId, heartbeat)
      // One hop: taken here and not forwarded (docs/decisions/002-gossipsub.md).
      return TopicValidatorResult.Ignore
    })
    // A peer whose heartbeats are rejected (malformed, or in another server's name) is scored
    // down as on the config topic: three and it is graylisted until the penalty decays.
    scoreInvalidMessages(pubsub, topic)
    pubsub.subscribe(topic)
    this.publisher.start()
  }

  stop (): void {
    const { pubsub, topic } = this.init
    this.publisher.stop()
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
  }

  private deliver (originator: string, heartbeat: Heartbeat): void {
    this.init.onClaim(originator, heartbeat.appliedVersion)
    if (heartbeat.serverId !== COORDINATOR_SERVER_ID) this.init.onHeartbeat?.(originator, heartbeat)
  }

  /** A bounded, well-formed heartbeat that an allowed peer sent about itself; undefined (logged) otherwise. */
  validate (message: Message, from: PeerId): Heartbeat | undefined {
    try {
      const heartbeat = decodeHeartbeat(message.data)
      const originator = from.toString()
      const serverId = this.init.serverIdOf(originator)
      if (serverId === undefined) throw new LumosError('UNKNOWN_PEER', `heartbeat from peer ${originator}, which is not in the latest signed config`)
      if (heartbeat.peerId !== originator || heartbeat.serverId !== serverId) {
        throw new LumosError('UNKNOWN_PEER', `heartbeat from peer ${originator} claims to be ${heartbeat.serverId} (${heartbeat.peerId}); the signed config binds it to ${serverId}`)
      }
      return heartbeat
    } catch (err) {
      const code = isLumosError(err) ? err.code : 'UNKNOWN'
      this.init.logger.warn({ peer: from.toString(), code, reason: (err as Error).message }, 'heartbeat rejected')
      return undefined
    }
  }
}
