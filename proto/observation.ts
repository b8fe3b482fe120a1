// What one mesh member says about another's liveness: the vocabulary shared by the node's
// failure detector (node/liveness) and the coordinator's quorum (coordinator/failover).
// Types only; the wire encoding belongs with the reports topic.

/**
 * One observer's current view of a peer.
 * - `alive`: heard recently and its last heartbeat says HAProxy is healthy.
 * - `unhealthy`: heard recently, but its own heartbeat says HAProxy is failing. The node
 *   is reachable (not down); it just should not receive traffic.
 * - `suspect`: silent, and direct + indirect probes failed; the suspicion timer runs.
 * - `down`: the suspicion timer expired without news from the peer.
 */
export type PeerView = 'alive' | 'unhealthy' | 'suspect' | 'down'

/** An observation as the coordinator holds it. Times are ms on the coordinator's clock. */
export interface PeerObservation {
  /** Server id of the observer (or the coordinator's own id for its own view). */
  observerId: string
  /** Server id of the observed peer. */
  targetId: string
  state: PeerView
  /** When the observer's view became `state` (receipt time minus the age the observer reported). */
  since: number
  /** When the coordinator received (or, for its own view, produced) this observation. Freshness is judged on it. */
  at: number
}
