// The shield node's side of lumos/<account>/reports/1. It publishes this node's view of its
// peers (handed over by node/liveness/liveness-runner.ts) and the failures the operator must
// know about (haproxy_reload_failed from the apply path). Only the coordinator subscribes the
// topic, so gossipsub sends a report straight to it and nobody relays it: with every node
// subscribed, each report crossed every link of the mesh (docs/decisions/002-gossipsub.md).
// A node that cannot reach the coordinator keeps its server errors in the outbox; its
// observations are missed until it can, and the coordinator counts the views of the others.
//
// Outbox: a server error must reach the coordinator, so it waits in a small in-memory queue
// (OUTBOX_SIZE, oldest dropped first) and is published only while the coordinator's peer
// subscribes the topic; the queue is retried every `retryMs`. It does not survive a restart:
// the failed version is still failed after one, and the next apply attempt reports again.
// Observation reports need no outbox: they are re-published every few seconds anyway.
import type { GossipSub } from '@libp2p/gossipsub'
import type { Logger } from 'pino'
import type { PeerViewEntry, ServerErrorReport } from '../../proto/codec.ts'
import { COORDINATOR_SERVER_ID } from '../../proto/heartbeat.ts'
import { boundErrorMessage, encodeReport } from '../../proto/report.ts'

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
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { void this.flush() }, this.init.retryMs ?? OUTBOX_RETRY_MS)
    void this.flush()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
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
}
