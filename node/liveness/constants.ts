// Presets of the failure detector (node/liveness/liveness.ts). Operators pick one by name
// instead of tuning a dozen timers (memberlist's DefaultLANConfig / DefaultWANConfig idea).
// Every timer is a whole multiple of the tick so a peer's fate is decided on tick edges.
//
// Timeline of a peer that dies right after its last heartbeat, LAN preset:
//   0 ms      last heartbeat heard
//   3000 ms   3 heartbeats missed → direct probe
//   3500 ms   direct probe timed out → ask 3 peers for indirect probes
//   4000 ms   indirect probes timed out → suspect (report-suspect)
//   4600 ms   suspicion timer expired → down (report-down)
// plus at most one tick (100 ms) of lag per timer: worst case 5000 ms (worstCaseDownMs).

export interface LivenessParams {
  readonly name: 'LAN' | 'WAN' | 'SEED_COMPAT'
  /** How often each node publishes its heartbeat. */
  readonly heartbeatIntervalMs: number
  /** Silence of this many heartbeat intervals starts the probes (or, without probing, suspicion). */
  readonly suspectAfterMissed: number
  /** SWIM probes of silent peers. Off only to reproduce the seed product's plain "unseen" rule. */
  readonly probing: boolean
  /** A direct probe without an answer after this long counts as failed. */
  readonly probeTimeoutMs: number
  /** How many other peers are asked to probe a silent peer after the direct probe failed; 0 skips the stage. */
  readonly indirectProbes: number
  /** Indirect probes without any success after this long count as failed. */
  readonly indirectProbeTimeoutMs: number
  /** How long a peer stays suspect before it is declared down; 0 = down at once. */
  readonly suspicionTimeoutMs: number
  /** A down peer is probed directly again this often, so a peer whose heartbeats are lost but which answers probes comes back. */
  readonly downProbeIntervalMs: number
  /** How often the shell calls observe(…, { type: 'tick' }). */
  readonly tickIntervalMs: number
  /** How often the shell re-publishes its current views even without a change (the coordinator drops stale ones). */
  readonly reportRefreshMs: number
}

/** Default: one data centre or a well-connected region. Down within 5 s. */
export const LAN: LivenessParams = Object.freeze({
  name: 'LAN',
  heartbeatIntervalMs: 1000,
  suspectAfterMissed: 3,
  probing: true,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  indirectProbeTimeoutMs: 500,
  suspicionTimeoutMs: 600,
  downProbeIntervalMs: 5000,
  tickIntervalMs: 100,
  reportRefreshMs: 3000
})

/** Shields spread over continents: tolerant of 1-2 s latency spikes. Down within 20 s. */
export const WAN: LivenessParams = Object.freeze({
  name: 'WAN',
  heartbeatIntervalMs: 2000,
  suspectAfterMissed: 4,
  probing: true,
  probeTimeoutMs: 2000,
  indirectProbes: 3,
  indirectProbeTimeoutMs: 3000,
  suspicionTimeoutMs: 6000,
  downProbeIntervalMs: 15000,
  tickIntervalMs: 250,
  reportRefreshMs: 10000
})

/**
 * The seed product's behaviour: a check every 5 minutes marks a server down when it was
 * unseen for 120 s. No probes, no suspicion period. Down after 120 s at best, 420 s at
 * worst (unseen for 119.9 s at one check, caught at the next one).
 */
export const SEED_COMPAT: LivenessParams = Object.freeze({
  name: 'SEED_COMPAT',
  heartbeatIntervalMs: 30000,
  suspectAfterMissed: 4,
  probing: false,
  probeTimeoutMs: 0,
  indirectProbes: 0,
  indirectProbeTimeoutMs: 0,
  suspicionTimeoutMs: 0,
  downProbeIntervalMs: 0,
  tickIntervalMs: 300000,
  reportRefreshMs: 60000
})

export const LIVENESS_PRESETS: Readonly<Record<LivenessParams['name'], LivenessParams>> = Object.freeze({ LAN, WAN, SEED_COMPAT })

export const DEFAULT_LIVENESS: LivenessParams = LAN
