// Presets of the coordinator's failover engine, named like the liveness presets
// (node/liveness/constants.ts) they go with: the observation window must outlast the
// nodes' report refresh, and the solo confirmation is what a 1-server fleet waits.
// See docs/decisions/004-quorum.md for why the numbers are what they are.
import type { QuorumTiming } from './types.ts'

/** LAN nodes re-publish their views every 3 s: 10 s tolerates two lost reports. */
export const QUORUM_LAN: QuorumTiming = Object.freeze({ freshnessMs: 10_000, soloConfirmMs: 60_000 })

/** WAN nodes re-publish every 10 s. */
export const QUORUM_WAN: QuorumTiming = Object.freeze({ freshnessMs: 30_000, soloConfirmMs: 120_000 })

/** The seed product checked every 5 minutes; its 120 s "unseen" already is the confirmation. */
export const QUORUM_SEED_COMPAT: QuorumTiming = Object.freeze({ freshnessMs: 600_000, soloConfirmMs: 0 })

export const QUORUM_PRESETS: Readonly<Record<'LAN' | 'WAN' | 'SEED_COMPAT', QuorumTiming>> = Object.freeze({
  LAN: QUORUM_LAN,
  WAN: QUORUM_WAN,
  SEED_COMPAT: QUORUM_SEED_COMPAT
})

/** A recovered server must stay healthy this long before traffic moves back to it. */
export const DEFAULT_HOLD_DOWN_MS = 60_000
