// The per-peer failure detector of a shield node (and of the coordinator, which is a mesh
// peer too): a SWIM-style state machine alive → suspect → down, and back to alive on any
// fresh evidence. It is pure: `observe(state, event, now, params)` returns the next state
// and the IO the shell must perform (send a probe, ask peers to probe, publish a report).
// Timers are comparisons of `now` with times stored in the state, checked on `tick`, so
// every transition is testable without a clock or a network (memberlist's idea).
//
// Stages of a silent peer: heartbeats missed → direct probe → indirect probes through
// `indirectProbes` other peers → suspect → (suspicion timeout) → down. A heartbeat or a
// successful probe at any stage makes it alive again. HAProxy health travels in the
// heartbeat: a peer whose HAProxy fails is reachable, so it stays alive, but its view is
// `unhealthy`, which the coordinator treats differently from `down`.
import type { PeerView } from '../../proto/observation.ts'
import type { LivenessParams } from './constants.ts'

export type PeerStatus = 'alive' | 'suspect' | 'down'

/** Which probe of a silent peer is outstanding. Only alive peers (or down ones, re-probed) have one. */
export type ProbeStage = 'none' | 'direct' | 'indirect'

/** What this member knows about one peer. Times are ms on this member's monotonic clock. */
export interface PeerLiveness {
  readonly status: PeerStatus
  /** From the peer's latest heartbeat; kept through suspicion so a comeback reports it. */
  readonly haproxyHealthy: boolean
  /** Last heartbeat or successful probe. */
  readonly lastHeardAt: number
  /** When viewOf(state) last changed: the start of the current view, and of the suspicion timer. */
  readonly since: number
  readonly probe: ProbeStage
  /** When the outstanding probe stage started; for a down peer, when it was last probed. */
  readonly probeSentAt: number
}

export type LivenessEvent =
  | { readonly type: 'heartbeat', readonly haproxyHealthy: boolean }
  | { readonly type: 'probe-ok' }
  | { readonly type: 'probe-failed' }
  /** At least one of the peers asked to probe got an answer. */
  | { readonly type: 'indirect-probe-ok' }
  /** None of the peers asked to probe got an answer (the shell reports this once, or lets the timer decide). */
  | { readonly type: 'indirect-probe-failed' }
  | { readonly type: 'tick' }

export type LivenessAction =
  | { readonly type: 'send-direct-probe' }
  /** Ask `count` other live peers to probe this one and tell us the result. */
  | { readonly type: 'request-indirect-probes', readonly count: number }
  | { readonly type: 'report-alive' }
  | { readonly type: 'report-unhealthy' }
  | { readonly type: 'report-suspect' }
  | { readonly type: 'report-down' }

export interface LivenessStep {
  readonly state: PeerLiveness
  readonly actions: readonly LivenessAction[]
}

/**
 * A peer that has just appeared in the signed config: presumed alive and healthy, with the
 * silence timer starting now, so one that never speaks is down after the usual timeline.
 */
export function initialPeerLiveness (now: number): PeerLiveness {
  return { status: 'alive', haproxyHealthy: true, lastHeardAt: now, since: now, probe: 'none', probeSentAt: now }
}

/** The view this member reports for a peer. */
export function viewOf (state: PeerLiveness): PeerView {
  if (state.status !== 'alive') return state.status
  return state.haproxyHealthy ? 'alive' : 'unhealthy'
}

const REPORT: Readonly<Record<PeerView, LivenessAction>> = {
  alive: { type: 'report-alive' },
  unhealthy: { type: 'report-unhealthy' },
  suspect: { type: 'report-suspect' },
  down: { type: 'report-down' }
}

/** Silence that starts probing (or suspicion when probing is off). */
export function silenceThresholdMs (params: LivenessParams): number {
  return params.heartbeatIntervalMs * params.suspectAfterMissed
}

/** Timers a silent peer runs through, in order, before it is down. */
function timersOf (params: LivenessParams): number[] {
  const timers = [silenceThresholdMs(params)]
  if (params.probing) {
    timers.push(params.probeTimeoutMs)
    if (params.indirectProbes > 0) timers.push(params.indirectProbeTimeoutMs)
  }
  if (params.suspicionTimeoutMs > 0) timers.push(params.suspicionTimeoutMs)
  return timers
}

/** From the last heartbeat to down when every probe times out and ticks fall exactly on the timers. */
export function detectionBudgetMs (params: LivenessParams): number {
  return timersOf(params).reduce((sum, ms) => sum + ms, 0)
}

/** Upper bound from the last heartbeat to down: each timer may be noticed up to one tick late. */
export function worstCaseDownMs (params: LivenessParams): number {
  return detectionBudgetMs(params) + timersOf(params).length * params.tickIntervalMs
}

/**
 * One step of the state machine: the next state for `event` received at `now`, and the
 * actions to perform. Reports are emitted only when the view changes.
 */
export function observe (state: PeerLiveness, event: LivenessEvent, now: number, params: LivenessParams): LivenessStep {
  switch (event.type) {
    case 'heartbeat':
      return heard(state, now, event.haproxyHealthy)
    case 'probe-ok':
    case 'indirect-probe-ok':
      return heard(state, now, state.haproxyHealthy)
    case 'probe-failed':
      return state.probe === 'direct' ? directProbeFailed(state, now, params) : { state, actions: [] }
    case 'indirect-probe-failed':
      return state.probe === 'indirect' && state.status === 'alive' ? becomeSuspect(state, now, params) : { state, actions: [] }
    case 'tick':
      return tick(state, now, params)
  }
}

/** Fresh evidence of life: alive, probes cancelled, view reported if it changed. */
function heard (state: PeerLiveness, now: number, haproxyHealthy: boolean): LivenessStep {
  const next: PeerLiveness = {
    status: 'alive',
    haproxyHealthy,
    lastHeardAt: Math.max(state.lastHeardAt, now),
    since: state.since,
    probe: 'none',
    probeSentAt: state.probeSentAt
  }
  return withView(state, next, now)
}

function tick (state: PeerLiveness, now: number, params: LivenessParams): LivenessStep {
  if (state.status === 'suspect') return suspicionExpired(state, now, params)
  if (state.status === 'down') {
    if (state.probe === 'direct' && now - state.probeSentAt >= params.probeTimeoutMs) return directProbeFailed(state, now, params)
    if (params.probing && state.probe === 'none' && now - state.probeSentAt >= params.downProbeIntervalMs) {
      return { state: { ...state, probe: 'direct', probeSentAt: now }, actions: [{ type: 'send-direct-probe' }] }
    }
    return { state, actions: [] }
  }
  switch (state.probe) {
    case 'none':
      if (now - state.lastHeardAt < silenceThresholdMs(params)) return { state, actions: [] }
      if (!params.probing) return becomeSuspect(state, now, params)
      return { state: { ...state, probe: 'direct', probeSentAt: now }, actions: [{ type: 'send-direct-probe' }] }
    case 'direct':
      return now - state.probeSentAt >= params.probeTimeoutMs ? directProbeFailed(state, now, params) : { state, actions: [] }
    case 'indirect':
      return now - state.probeSentAt >= params.indirectProbeTimeoutMs ? becomeSuspect(state, now, params) : { state, actions: [] }
  }
}

function directProbeFailed (state: PeerLiveness, now: number, params: LivenessParams): LivenessStep {
  // A down peer's periodic re-probe failed: nothing changes until the next one.
  if (state.status !== 'alive') return { state: { ...state, probe: 'none' }, actions: [] }
  if (params.indirectProbes <= 0) return becomeSuspect(state, now, params)
  return {
    state: { ...state, probe: 'indirect', probeSentAt: now },
    actions: [{ type: 'request-indirect-probes', count: params.indirectProbes }]
  }
}

/** Probes exhausted: suspect, and down at once when the preset has no suspicion period. */
function becomeSuspect (state: PeerLiveness, now: number, params: LivenessParams): LivenessStep {
  const suspect = withView(state, { ...state, status: 'suspect', probe: 'none' }, now)
  const expired = suspicionExpired(suspect.state, now, params)
  return { state: expired.state, actions: [...suspect.actions, ...expired.actions] }
}

function suspicionExpired (state: PeerLiveness, now: number, params: LivenessParams): LivenessStep {
  if (now - state.since < params.suspicionTimeoutMs) return { state, actions: [] }
  // The re-probe interval of a down peer counts from the moment it went down.
  return withView(state, { ...state, status: 'down', probe: 'none', probeSentAt: now }, now)
}

/** Stamps `since` and appends the report when the view differs between `before` and `next`. */
function withView (before: PeerLiveness, next: PeerLiveness, now: number): LivenessStep {
  const view = viewOf(next)
  if (view === viewOf(before)) return { state: next, actions: [] }
  return { state: { ...next, since: now }, actions: [REPORT[view]] }
}
