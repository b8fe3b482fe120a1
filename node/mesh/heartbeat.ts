// The shield node's heartbeats on lumos/<account>/heartbeat/1: publishes what this node
// holds about every second, and validates the heartbeats of others before gossipsub
// forwards them. A heartbeat is accepted only from a peer of the latest signed config (or
// the coordinator), signed by that peer (gossipsub StrictSign) and naming itself: the
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
import type { Verdict } from './node-mesh.ts'

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
  private readonly onMessage = (event: CustomEvent<Message>): void => {
    const message = event.detail
    if (message.topic !== this.init.topic || message.type !== 'signed') return
    // Already accepted by validate(); decoding again is cheap (≤ MAX_HEARTBEAT_BYTES).
    const heartbeat = decodeHeartbeat(message.data)
    this.init.onClaim(message.from.toString(), heartbeat.appliedVersion)
    if (heartbeat.serverId !== COORDINATOR_SERVER_ID) this.init.onHeartbeat?.(message.from.toString(), heartbeat)
  }

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
      const verdict = this.validate(message, from)
      return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.addEventListener('message', this.onMessage)
    pubsub.subscribe(topic)
    this.publisher.start()
  }

  stop (): void {
    const { pubsub, topic } = this.init
    this.publisher.stop()
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
  }

  /** Gossip validator: a bounded, well-formed heartbeat that its allowed originator signed about itself. */
  validate (message: Message, from: PeerId): Verdict {
    try {
      if (message.type !== 'signed') throw new LumosError('UNKNOWN_PEER', 'unsigned heartbeat: the originator is unknown')
      const heartbeat = decodeHeartbeat(message.data)
      const originator = message.from.toString()
      const serverId = this.init.serverIdOf(originator)
      if (serverId === undefined) throw new LumosError('UNKNOWN_PEER', `heartbeat from peer ${originator}, which is not in the latest signed config`)
      if (heartbeat.peerId !== originator || heartbeat.serverId !== serverId) {
        throw new LumosError('UNKNOWN_PEER', `heartbeat from peer ${originator} claims to be ${heartbeat.serverId} (${heartbeat.peerId}); the signed config binds it to ${serverId}`)
      }
      return 'accept'
    } catch (err) {
      const code = isLumosError(err) ? err.code : 'UNKNOWN'
      this.init.logger.warn({ peer: from.toString(), code, reason: (err as Error).message }, 'heartbeat rejected')
      return 'reject'
    }
  }
}
