// The libp2p peer every mesh member runs (coordinator and shield nodes alike): TCP (one
// write per send, proto/tcp-coalesce.ts), noise (no Error built per message,
// proto/mesh-noise.ts), yamux (window updates per half window, proto/yamux-window.ts),
// identify and gossipsub with options for a small fleet (1-20 peers, see
// docs/decisions/002-gossipsub.md).
// Topic names and protocol ids live here too.
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import { createLibp2p } from 'libp2p'
import { meshNoise } from './mesh-noise.ts'
import { coalescingTcp } from './tcp-coalesce.ts'
import { sendWindowUpdatesAtHalf } from './yamux-window.ts'

export const SYNC_PROTOCOL = '/lumos/sync/1'
/** Largest message accepted on gossip or sync streams. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024
/** Smallest gossip message for which gossipsub sends IDONTWANT to its mesh peers. */
export const IDONTWANT_MIN_BYTES = 64 * 1024

/**
 * Gossipsub mesh degree for 1-20 peers (defaults: D 6, Dlo 4, Dhi 12). The coordinator
 * floods each version to every node, so a mesh forward is a duplicate except for a node
 * whose coordinator link is down; three mesh peers still relay to it
 * (test/proto/mesh-relay.test.ts) while each node handles half the copies.
 * bench/gossip, 20 nodes: node CPU per change -12 to -25 %, stored on all p99 6 KB
 * 71 -> 55 ms, 198 KB 430 -> 205 ms (docs/decisions/002-gossipsub.md).
 * Dout (outbound links kept) must stay below Dlo, Dscore (best-scored kept) at most D.
 */
export const MESH_DEGREE = Object.freeze({ D: 3, Dlo: 2, Dhi: 6, Dout: 1, Dscore: 2 })

export const PROBE_PROTOCOL = '/lumos/probe/1'

export function reportsTopic (accountId: string): string {
  return `lumos/${accountId}/reports/1`
}

export function configTopic (accountId: string): string {
  return `lumos/${accountId}/config/1`
}

export function heartbeatTopic (accountId: string): string {
  return `lumos/${accountId}/heartbeat/1`
}

export type MeshPeer = Libp2p<{ pubsub: GossipSub, identify: unknown }>

export interface MeshPeerInit {
  privateKey: PrivateKey
  /** Multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/4001 */
  listen: string[]
  /** Decides which remote peers may connect (the allow-list); everyone when omitted. */
  isPeerAllowed?: (peer: PeerId) => boolean
}

/**
 * Peer-score parameters besides the per-topic ones (scoreInvalidMessages). The IP
 * colocation penalty (P6) is off: gossipsub's default (weight -5 per squared peer above 10
 * on one IP) scores EVERY peer sharing an address once more than 10 of them do: 15 peers
 * on one IP make each of them -125, below the publish (-50) and graylist (-80) thresholds,
 * so a node silently drops all gossip (config versions and the heartbeats that drive
 * catch-up) and the coordinator floods its versions to nobody. That is every LocalFleet
 * run above 14 nodes (all on 127.0.0.1), and shields behind one NAT or WireGuard gateway
 * in production. P6 is a Sybil defence; here the connection gater already admits only the
 * peers of the signed config, so it guards nothing and only cuts honest peers off.
 */
export const MESH_SCORE_PARAMS = { IPColocationFactorWeight: 0 } as const

export async function createMeshPeer (init: MeshPeerInit): Promise<MeshPeer> {
  const allowed = init.isPeerAllowed ?? (() => true)
  sendWindowUpdatesAtHalf()
  const gater: ConnectionGater = {
    denyDialPeer: async (peer) => !allowed(peer),
    denyInboundEncryptedConnection: async (peer) => !allowed(peer),
    denyOutboundEncryptedConnection: async (peer) => !allowed(peer)
  }
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [coalescingTcp()],
    connectionEncrypters: [meshNoise()],
    streamMuxers: [yamux()],
    connectionGater: gater,
    // No libp2p ping of every connection every 10 s (a stream and a protocol negotiation
    // each time, 4 per second per node at 20 nodes), which also aborted a connection whose
    // ping was late on a loaded machine: heartbeats and /lumos/probe/1 watch the peers, and
    // yamux keep-alive frames find dead connections.
    connectionMonitor: { enabled: false },
    services: {
      identify: identify(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        floodPublish: true,
        // One encoding of a published message for all its recipients (the coordinator
        // floods each version to every node).
        batchPublish: true,
        // No gossipsub message signatures (the message id is the sha256 of the data):
        // config versions carry the coordinator's own signature, which is what nodes
        // check, and heartbeats and reports travel one hop, so the noise-authenticated
        // connection names their sender. See docs/decisions/002-gossipsub.md.
        globalSignaturePolicy: 'StrictNoSign',
        emitSelf: false,
        heartbeatInterval: 700,
        ...MESH_DEGREE,
        // No IHAVE gossip: a node's own heartbeats sit in its message cache like any
        // published message, so every gossipsub heartbeat announced them to Dlazy peers
        // that had them already (everyone gets them directly). A config version that missed
        // a node on the flood and the mesh reaches it through the heartbeats' version claims
        // and /lumos/sync/1 instead. Idle node CPU at 20 × 1 000: 2.2 → 1.6-2.1 %.
        mcacheGossip: 0,
        // IDONTWANT (sent to the mesh before validating a message) only for messages whose
        // copy costs more than the IDONTWANT itself: below ~64 KB a copy is one more frame
        // like the IDONTWANT, with a few microseconds more of cipher and hash, and both
        // often cross anyway. A small version (a few KB) then costs each node its forwards
        // and duplicates but no 2 × D IDONTWANT frames.
        idontwantMinDataSize: IDONTWANT_MIN_BYTES,
        maxInboundDataLength: MAX_MESSAGE_BYTES,
        scoreParams: MESH_SCORE_PARAMS
      })
    }
  })
}

/**
 * Scores a topic so that only invalid messages count: each message a validator rejects
 * adds to the sender's P4 counter (its square times the weight, decaying slowly), so three
 * bad messages take a peer below the graylist threshold (-80) and it is ignored. Delivery
 * rates are not scored: config versions are rare, silence is normal.
 */
export function scoreInvalidMessages (pubsub: GossipSub, topic: string): void {
  const score = (pubsub as unknown as { score?: { params: { topics: Record<string, unknown> } } }).score
  if (score === undefined) return
  score.params.topics[topic] = {
    topicWeight: 1,
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 0,
    firstMessageDeliveriesWeight: 0,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 0,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 0,
    meshMessageDeliveriesThreshold: 0,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.99
  }
}

export async function newPeerKey (): Promise<PrivateKey> {
  return await generateKeyPair('Ed25519')
}

export function encodePeerKey (key: PrivateKey): string {
  return Buffer.from(privateKeyToProtobuf(key)).toString('base64')
}

export function decodePeerKey (encoded: string): PrivateKey {
  return privateKeyFromProtobuf(Buffer.from(encoded, 'base64'))
}
