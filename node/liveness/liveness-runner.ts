// The IO shell around the pure failure detector (liveness.ts): one PeerLiveness per peer
// server of the latest signed config (not this node, not pending or decommissioned
// servers), fed with every accepted heartbeat (node/mesh/heartbeat.ts), ticked every
// `params.tickIntervalMs`, and whose actions it performs: direct probes over /lumos/probe/1,
// indirect probes through `count` other live peers, and reports. The full current view is
// published (node/mesh/reports.ts) right after any view changes, coalesced per event loop
// turn, and re-published at least every `reportRefreshMs` so the coordinator can judge
// freshness. Probe results come back as events; a stale failure (from a probe that is no
// longer the outstanding one) is dropped, while any success is fresh evidence of life.
import type { Logger } from 'pino'
import type { ConfigVersion, PeerViewEntry } from '../../proto/codec.ts'
import type { PeerView } from '../../proto/observation.ts'
import type { LivenessParams } from './constants.ts'
import { initialPeerLiveness, observe, viewOf, type LivenessAction, type LivenessEvent, type PeerLiveness } from './liveness.ts'

/** Reports go out at least this often, whatever the preset says. */
export const MAX_REPORT_REFRESH_MS = 2000

/** The probes the runner performs (node/mesh/probe-protocol.ts ProbeService). */
export interface LivenessProbes {
  probe: (peerId: string, signal: AbortSignal) => Promise<boolean>
  askToProbe: (helperPeerId: string, targetPeerId: string, signal: AbortSignal) => Promise<boolean>
}

export interface LivenessRunnerInit {
  params: LivenessParams
  /** This node's server id: never tracked. */
  selfServerId: string
  probes: LivenessProbes
  /** Publishes this node's full current view (an ObservationReport). */
  publish: (views: PeerViewEntry[]) => Promise<void>
  logger: Logger
  /** Default: min(params.reportRefreshMs, MAX_REPORT_REFRESH_MS). */
  reportRefreshMs?: number
  /** Monotonic ms; performance.now by default. */
  now?: () => number
  /** For picking indirect-probe helpers; Math.random by default. */
  random?: () => number
}

interface TrackedPeer {
  readonly serverId: string
  readonly peerId: string
  state: PeerLiveness
  /** Number of the outstanding probe stage; results of older ones may only bring good news. */
  probeRound: number
  /** Aborts the outstanding probe IO. */
  inflight: AbortController | undefined
}

export class LivenessRunner {
  private readonly init: LivenessRunnerInit
  private readonly params: LivenessParams
  private readonly now: () => number
  private readonly random: () => number
  private readonly reportRefreshMs: number
  /** server id → tracked peer */
  private readonly peers = new Map<string, TrackedPeer>()
  /** peer id → server id */
  private readonly byPeerId = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  /** Re-armed at every publish: the next refresh is due `reportRefreshMs` after the last report. */
  private refreshTimer: NodeJS.Timeout | undefined
  private running = false
  private publishQueued = false

  private readonly stepFailed = (err: unknown): void => { this.init.logger.error({ err }, 'liveness step failed') }

  constructor (init: LivenessRunnerInit) {
    this.init = init
    this.params = init.params
    this.now = init.now ?? (() => performance.now())
    this.random = init.random ?? Math.random
    this.reportRefreshMs = init.reportRefreshMs ?? Math.min(init.params.reportRefreshMs, MAX_REPORT_REFRESH_MS)
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.timer = setInterval(() => { this.tick() }, this.params.tickIntervalMs)
    this.publishSoon()
  }

  stop (): void {
    this.running = false
    clearInterval(this.timer)
    clearTimeout(this.refreshTimer)
    this.timer = undefined
    this.refreshTimer = undefined
    for (const peer of this.peers.values()) peer.inflight?.abort()
  }

  /** Follows a new signed version: peers appear (presumed alive from now) or disappear. */
  follow (config: Pick<ConfigVersion, 'servers'>): void {
    const now = this.now()
    const listed = config.servers.filter(s => s.id !== this.init.selfServerId && s.peerId !== '' && s.status !== 'decommissioned')
    let changed = false
    for (const [serverId, peer] of this.peers) {
      // A server whose peer id changed (key rotation) starts afresh under its new identity.
      if (listed.some(s => s.id === serverId && s.peerId === peer.peerId)) continue
      peer.inflight?.abort()
      this.peers.delete(serverId)
      this.byPeerId.delete(peer.peerId)
      changed = true
    }
    for (const server of listed) {
      if (this.peers.has(server.id)) continue
      this.peers.set(server.id, { serverId: server.id, peerId: server.peerId, state: initialPeerLiveness(now), probeRound: 0, inflight: undefined })
      this.byPeerId.set(server.peerId, server.id)
      changed = true
    }
    if (changed) this.publishSoon()
  }

  /** An accepted heartbeat from `peerId`; ignored unless it is a tracked peer. */
  noteHeartbeat (peerId: string, haproxyHealthy: boolean): void {
    const serverId = this.byPeerId.get(peerId)
    if (serverId !== undefined) this.step(serverId, { type: 'heartbeat', haproxyHealthy })
  }

  /** The current view of one peer server, undefined when it is not tracked. */
  viewOf (serverId: string): PeerView | undefined {
    const peer = this.peers.get(serverId)
    return peer === undefined ? undefined : viewOf(peer.state)
  }

  /** This node's full current view, as published. */
  views (): PeerViewEntry[] {
    const now = this.now()
    return [...this.peers.values()].map(peer => ({
      targetServerId: peer.serverId,
      state: viewOf(peer.state),
      ageMs: Math.max(0, Math.round(now - peer.state.since))
    }))
  }

  private tick (): void {
    for (const serverId of [...this.peers.keys()]) this.step(serverId, { type: 'tick' })
  }

  private step (serverId: string, event: LivenessEvent, round?: number): void {
    const peer = this.peers.get(serverId)
    if (peer === undefined || !this.running) return
    const isFailure = event.type === 'probe-failed' || event.type === 'indirect-probe-failed'
    if (isFailure && round !== peer.probeRound) return
    const before = peer.state
    const { state, actions } = observe(before, event, this.now(), this.params)
    peer.state = state
    // Any evidence of life ends the outstanding probe stage.
    if (state.probe === 'none' && before.probe !== 'none') {
      peer.probeRound++
      peer.inflight?.abort()
      peer.inflight = undefined
    }
    for (const action of actions) this.perform(peer, action)
  }

  private perform (peer: TrackedPeer, action: LivenessAction): void {
    switch (action.type) {
      case 'send-direct-probe':
        this.directProbe(peer)
        return
      case 'request-indirect-probes':
        this.indirectProbes(peer, action.count)
        return
      default:
        this.init.logger.info({ server: peer.serverId, peer: peer.peerId, view: viewOf(peer.state) }, 'peer view changed')
        this.publishSoon()
    }
  }

  /** Starts a new probe round for `peer`, aborting the IO of the previous one. */
  private newRound (peer: TrackedPeer, timeoutMs: number): { round: number, signal: AbortSignal } {
    peer.inflight?.abort()
    peer.probeRound++
    peer.inflight = new AbortController()
    return { round: peer.probeRound, signal: AbortSignal.any([peer.inflight.signal, AbortSignal.timeout(timeoutMs)]) }
  }

  private directProbe (peer: TrackedPeer): void {
    const { round, signal } = this.newRound(peer, this.params.probeTimeoutMs)
    this.init.probes.probe(peer.peerId, signal).then(ok => ok, (err: unknown) => {
      this.init.logger.debug({ err, server: peer.serverId, peer: peer.peerId }, 'direct probe failed')
      return false
    }).then(ok => { this.step(peer.serverId, { type: ok ? 'probe-ok' : 'probe-failed' }, round) }).catch(this.stepFailed)
  }

  private indirectProbes (peer: TrackedPeer, count: number): void {
    const { round, signal } = this.newRound(peer, this.params.indirectProbeTimeoutMs)
    const helpers = this.pickHelpers(peer.serverId, count)
    if (helpers.length === 0) {
      queueMicrotask(() => { this.step(peer.serverId, { type: 'indirect-probe-failed' }, round) })
      return
    }
    let outstanding = helpers.length
    let settled = false
    for (const helper of helpers) {
      this.init.probes.askToProbe(helper.peerId, peer.peerId, signal).then(ok => ok, (err: unknown) => {
        this.init.logger.debug({ err, server: peer.serverId, helper: helper.serverId }, 'indirect probe request failed')
        return false
      }).then(ok => {
        outstanding--
        if (settled) return
        if (ok || outstanding === 0) {
          settled = true
          this.step(peer.serverId, { type: ok ? 'indirect-probe-ok' : 'indirect-probe-failed' }, round)
        }
      }).catch(this.stepFailed)
    }
  }

  /** Up to `count` other peers this node sees alive (or unhealthy: reachable), in random order. */
  private pickHelpers (targetServerId: string, count: number): TrackedPeer[] {
    const candidates = [...this.peers.values()].filter(p => p.serverId !== targetServerId && p.state.status === 'alive')
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1))
      const swap = candidates[i] as TrackedPeer
      candidates[i] = candidates[j] as TrackedPeer
      candidates[j] = swap
    }
    return candidates.slice(0, count)
  }

  private publishSoon (): void {
    if (this.publishQueued || !this.running) return
    this.publishQueued = true
    setImmediate(() => {
      this.publishQueued = false
      if (this.running) this.publishNow()
    })
  }

  private publishNow (): void {
    clearTimeout(this.refreshTimer)
    this.refreshTimer = setTimeout(() => { this.publishNow() }, this.reportRefreshMs)
    this.init.publish(this.views()).catch((err: unknown) => { this.init.logger.debug({ err }, 'observation report not published; the next refresh retries') })
  }
}
