// Messages between bench/gossip/run.ts and its child processes (Node IPC), and the one
// clock they all time with: CLOCK_MONOTONIC through process.hrtime, which every process
// of this machine shares (unlike performance.timeOrigin, fixed per process at start).
import type { Enrollment } from '../../node/enrollment.ts'

/** Milliseconds on the machine-wide monotonic clock, with sub-millisecond resolution. */
export function nowMs (): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** CPU time (user + system) this process used so far, in ms. */
export function cpuMs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

export interface ServerSpec {
  id: string
  peerId: string
  multiaddrs: string[]
}

/** The account the publisher serves: its servers are the bench's node processes. */
export interface PublisherSetup {
  type: 'setup'
  dir: string
  listen: string
  servers: ServerSpec[]
  domains: number
  /** Origins per domain (1 = bench/envelope-size.ts largeConfig as it is). */
  origins: number
}

export interface PublisherReady {
  type: 'ready'
  accountId: string
  peerId: string
  multiaddrs: string[]
  publicKey: string
  topic: string
  version: number
  envelopeBytes: number
}

/** One accepted change, timed through the coordinator's real commit path. */
export interface Published {
  type: 'published'
  version: number
  envelopeBytes: number
  /** ConfigVersions.commit called (what the API does once a change is accepted). */
  acceptedAt: number
  /** Signing (encode + compress + ed25519) started / ended. */
  signStartAt: number
  signEndAt: number
  /** The fsynced store write is done; mesh publish is called now. */
  publishAt: number
  /** pubsub.publish resolved (sent to every peer). */
  publishDoneAt: number
}

export interface NodeStart {
  type: 'start'
  dir: string
  peerKey: string
  listen: string
  enrollment: Enrollment
}

export type NodeEvent =
  | { type: 'ready' }
  | { type: 'cpu', ms: number }
  /**
   * A version's stage times on one node: accepted by the validator ('verified', and whether
   * it came by gossip or sync), durable ('stored'), fully decoded and handed to the
   * (recording) applier ('decoded', where rendering would start). The answer to 'collect',
   * sent once the version is decoded.
   */
  | { type: 'delivered', version: number, verifiedAt?: number, via?: 'gossip' | 'sync', storedAt?: number, decodedAt?: number }

export type ParentMessage = PublisherSetup | NodeStart | { type: 'change' } | { type: 'collect', version: number } | { type: 'subscribers' } | { type: 'cpu' } | { type: 'stop' }
