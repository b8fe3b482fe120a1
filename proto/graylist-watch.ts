// Logs when gossipsub graylists a connected peer and when it lets it back. Otherwise the
// only trace is each rejected message: nothing says that everything the peer sends is now
// ignored, the coordinator's config versions included when it is the peer. A peer is
// graylisted after three invalid messages (scoreInvalidMessages in proto/mesh-peer.ts).
import type { Logger } from 'pino'
import type { MeshPeer } from './mesh-peer.ts'

/** gossipsub's default graylist threshold, which the mesh keeps. */
export const GRAYLIST_THRESHOLD = -80
const CHECK_EVERY_MS = 1000

/** Checks the scores of the connected peers every `everyMs`; returns the function that stops it. */
export function watchGraylist (peer: MeshPeer, logger: Logger, everyMs = CHECK_EVERY_MS): () => void {
  const pubsub = peer.services.pubsub as unknown as { getScore: (peerId: string) => number }
  const graylisted = new Set<string>()
  const timer = setInterval(() => {
    const connected = new Set(peer.getConnections().map(connection => connection.remotePeer.toString()))
    for (const peerId of connected) {
      const score = pubsub.getScore(peerId)
      if (score < GRAYLIST_THRESHOLD && !graylisted.has(peerId)) {
        graylisted.add(peerId)
        logger.warn({ peer: peerId, score }, 'peer graylisted: everything it gossips is ignored until the penalty decays; see the rejected messages logged for it')
      } else if (score >= GRAYLIST_THRESHOLD && graylisted.delete(peerId)) {
        logger.info({ peer: peerId, score }, 'peer no longer graylisted')
      }
    }
    for (const peerId of graylisted) if (!connected.has(peerId)) graylisted.delete(peerId)
  }, everyMs)
  timer.unref()
  return () => { clearInterval(timer) }
}
