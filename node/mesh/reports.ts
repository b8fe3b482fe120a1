// The shield node's side of lumos/<account>/reports/1. It publishes this node's view of its
// peers (handed over by node/liveness/liveness-runner.ts) and the failures the operator must
// know about (haproxy_reload_failed from the apply path). It subscribes the topic too, so
// reports of other nodes travel through it to the coordinator, and validates them first:
// well-formed and bounded (proto/report.ts), from a peer of the latest signed config, and
// naming that peer as its origin.
//
// Outbox: a server error must reach the coordinator, so it waits in a small in-memory queue
// (OUTBOX_SIZE, oldest dropped first) and is published only while the coordinator's peer
// subscribes the topic; the queue is retried every `retryMs`. It does not survive a restart:
// the failed version is still failed after one, and the next apply attempt reports again.
// Observation reports need no outbox: they are re-published every few seconds anyway.
import { scoreInvalidMessages } from '../../proto/mesh-peer.ts'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { PeerViewEntry, ServerErrorReport } from '../../proto/codec.ts'
import { COORDINATOR_SERVER_ID } from '../../proto/heartbeat.ts'
import { LumosError, isLumosError } from '../../proto/lumos-error.ts'
import { boundErrorMessage, decodeReport, encodeReport, originOf } from '../../proto/report.ts'
import type { Verdict } from './node-mesh.ts'

/** Server errors kept while the coordinator is not reachable; the oldest goes first. */
export const OUTBOX_SIZE = 16
/** How often the outbox checks for the coordinator. */
export const OUTBOX_RETRY_MS = 1000

export interface NodeReportsInit {
  pubsub: GossipSub
  topic: string
  serverId: string
  peerId: string
  /** The server id the latest signed config binds to a peer ('coordinator' for the coordinator); undefined when not allowed. */
  serverIdOf: (peerId: string) => string | undefined
  logger: Logger
  retryMs?: number
  /** Wall clock for sent_at_ms. */
  now?: () => number
}

export interface ServerError {
  type: string
  message: string
  version: number
}

export class NodeReports {
  private readonly init: NodeReportsInit
  private readonly now: () => number
  private readonly outbox: ServerErrorReport[] = []
  private timer: NodeJS.Timeout | undefined
  private flushing = false

  constructor (init: NodeReportsInit) {
    this.init = init
    this.now = init.now ?? Date.now
  }

  /** Server errors not yet handed to the coordinator. */
  get pending (): number { return this.outbox.length }

  start (): void {
    const { pubsub, topic } = this.init
    if (this.timer !== undefined) return
    scoreInvalidMessages(pubsub, topic)
    pubsub.topicValidators.set(topic, (from, message) => {
      const verdict = this.validate(message, from)
      return verdict === 'accept' ? TopicValidatorResult.Accept : verdict === 'reject' ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    })
    pubsub.subscribe(topic)
    this.timer = setInterval(() => { void this.flush() }, this.init.retryMs ?? OUTBOX_RETRY_MS)
    void this.flush()
  }

  stop (): void {
    const { pubsub, topic } = this.init
    clearInterval(this.timer)
    this.timer = undefined
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
  }

  /** Publishes this node's full current view of its peers. */
  async publishObservations (views: PeerViewEntry[]): Promise<void> {
    const { serverId, peerId } = this.init
    await this.publish(encodeReport({ observations: { observerServerId: serverId, observerPeerId: peerId, views, sentAtMs: this.now() } }))
  }

  /** Queues a server error for the coordinator and sends it as soon as the coordinator listens. */
  reportServerError (error: ServerError): void {
    const { serverId, peerId } = this.init
    if (this.outbox.length >= OUTBOX_SIZE) {
      const dropped = this.outbox.shift()
      this.init.logger.warn({ type: dropped?.type, version: dropped?.version }, 'report outbox full; oldest server error dropped')
    }
    this.outbox.push({ serverId, peerId, type: error.type, message: boundErrorMessage(error.message), version: error.version, sentAtMs: this.now() })
    if (this.timer !== undefined) void this.flush()
  }

  /** Whether the coordinator's peer subscribes the reports topic (as far as this node sees). */
  coordinatorListening (): boolean {
    return this.init.pubsub.getSubscribers(this.init.topic).some(peer => this.init.serverIdOf(peer.toString()) === COORDINATOR_SERVER_ID)
  }

  private async flush (): Promise<void> {
    if (this.flushing || this.outbox.length === 0 || !this.coordinatorListening()) return
    this.flushing = true
    try {
      while (this.outbox.length > 0) {
        const report = this.outbox[0] as ServerErrorReport
        await this.publish(encodeReport({ serverError: report }))
        this.outbox.shift()
        this.init.logger.info({ type: report.type, version: report.version }, 'server error reported to the coordinator')
      }
    } catch (err) {
      this.init.logger.debug({ err }, 'server error report not published; the outbox retries')
    } finally {
      this.flushing = false
    }
  }

  private async publish (bytes: Uint8Array): Promise<void> {
    await this.init.pubsub.publish(this.init.topic, bytes)
  }

  /**
   * Gossip validator: a bounded, well-formed report that its allowed originator signed about
   * itself. A report from an originator outside the held config is ignored (not scored).
   */
  validate (message: Message, from: PeerId): Verdict {
    try {
      if (message.type !== 'signed') throw new LumosError('UNKNOWN_PEER', 'unsigned report: the originator is unknown')
      const origin = originOf(decodeReport(message.data))
      const originator = message.from.toString()
      const serverId = this.init.serverIdOf(originator)
      if (serverId === undefined) {
        // Not forwarded, but not the forwarder's fault either: the originator may be in a
        // version this node does not hold yet (a freshly enrolled node holds none and knows
        // only the coordinator). 'reject' would score the forwarder, usually the
        // coordinator, and a few reports graylist it: the node then drops every config
        // version and head heartbeat it sends (seen in bench/propagation, 20 nodes).
        this.init.logger.debug({ peer: from.toString(), originator }, 'report from a peer outside the held config ignored')
        return 'ignore'
      }
      if (origin.peerId !== originator || origin.serverId !== serverId) {
        throw new LumosError('UNKNOWN_PEER', `report from peer ${originator} claims to be ${origin.serverId} (${origin.peerId}); the signed config binds it to ${serverId}`)
      }
      return 'accept'
    } catch (err) {
      const code = isLumosError(err) ? err.code : 'UNKNOWN'
      this.init.logger.warn({ peer: from.toString(), code, reason: (err as Error).message }, 'report rejected')
      return 'reject'
    }
  }
}
