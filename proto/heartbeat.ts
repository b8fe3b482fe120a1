// Heartbeats on lumos/<account>/heartbeat/1: every shield node (and the coordinator, for
// its head) says about every second which version it holds. They let a restarted or
// partitioned peer notice it is behind without waiting for the next change. A heartbeat
// is only a hint: whatever it leads to is fetched over /lumos/sync/1 and verified against
// the pinned coordinator key, so a lying heartbeat costs a sync request, never config.
// This module owns the bounds, the strict decode and the periodic publisher both sides use.
import type { Logger } from 'pino'
import { heartbeatCodec, type Heartbeat } from './codec.ts'
import { LumosError } from './lumos-error.ts'

/** Default publish interval. */
export const HEARTBEAT_INTERVAL_MS = 1000
/** Largest heartbeat accepted; a genuine one is about 130 bytes. */
export const MAX_HEARTBEAT_BYTES = 512
/** The server_id the coordinator publishes its head under. */
export const COORDINATOR_SERVER_ID = 'coordinator'

const MAX_ID_CHARS = 128
const HASH_BYTES = 32

export function encodeHeartbeat (heartbeat: Heartbeat): Uint8Array {
  return heartbeatCodec.encode(heartbeat)
}

/**
 * Decodes and bounds-checks a heartbeat from the wire. Throws MALFORMED_MESSAGE for bytes
 * that are too large, do not decode, or carry empty/oversized ids or a hash of the wrong size.
 * Who may send it is the receiver's decision (see node/mesh/heartbeat.ts).
 */
export function decodeHeartbeat (bytes: Uint8Array): Heartbeat {
  if (bytes.length > MAX_HEARTBEAT_BYTES) throw new LumosError('MALFORMED_MESSAGE', `heartbeat of ${bytes.length} bytes exceeds the ${MAX_HEARTBEAT_BYTES}-byte bound`)
  const heartbeat = heartbeatCodec.decode(bytes)
  const problem = heartbeat.serverId === '' || heartbeat.serverId.length > MAX_ID_CHARS
    ? 'server_id is empty or too long'
    : heartbeat.peerId === '' || heartbeat.peerId.length > MAX_ID_CHARS
      ? 'peer_id is empty or too long'
      : heartbeat.appliedHash.length !== 0 && heartbeat.appliedHash.length !== HASH_BYTES
        ? `applied_hash has ${heartbeat.appliedHash.length} bytes, not ${HASH_BYTES}`
        : !Number.isSafeInteger(heartbeat.appliedVersion) || !Number.isSafeInteger(heartbeat.sentAtMs)
          ? 'applied_version or sent_at_ms out of range'
          : undefined
  if (problem !== undefined) throw new LumosError('MALFORMED_MESSAGE', `malformed heartbeat: ${problem}`)
  return heartbeat
}

/** One heartbeat to send and the topic (account) it goes to. */
export interface OutgoingHeartbeat {
  topic: string
  heartbeat: Heartbeat
}

export interface HeartbeatPublisherInit {
  /** Publishes encoded bytes on a gossip topic. */
  publish: (topic: string, bytes: Uint8Array) => Promise<void>
  /** The heartbeats to send now: one for a node, one per account for the coordinator. */
  beats: () => Promise<OutgoingHeartbeat[]> | OutgoingHeartbeat[]
  logger: Logger
  intervalMs?: number
}

/**
 * Sends `beats()` every `intervalMs` (default HEARTBEAT_INTERVAL_MS), once at start().
 * Ticks never overlap: a slow publish delays the next tick instead of piling up.
 */
export class HeartbeatPublisher {
  private readonly init: HeartbeatPublisherInit
  private readonly intervalMs: number
  private timer: NodeJS.Timeout | undefined
  private running = false

  constructor (init: HeartbeatPublisherInit) {
    this.init = init
    this.intervalMs = init.intervalMs ?? HEARTBEAT_INTERVAL_MS
    if (!Number.isInteger(this.intervalMs) || this.intervalMs < 50) throw new LumosError('BAD_CONFIG', `heartbeat interval ${this.intervalMs} ms must be an integer of at least 50 ms`)
  }

  start (): void {
    if (this.running) return
    this.running = true
    void this.tick()
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private async tick (): Promise<void> {
    try {
      for (const { topic, heartbeat } of await this.init.beats()) await this.init.publish(topic, encodeHeartbeat(heartbeat))
    } catch (err) {
      this.init.logger.debug({ err }, 'heartbeat not published; next tick retries')
    }
    if (!this.running) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.tick() }, this.intervalMs)
  }
}
