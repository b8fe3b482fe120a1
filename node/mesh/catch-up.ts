// Catch-up: fetches a newer version from a peer that has it, one sync at a time.
// Peers tell us what they hold (heartbeats → noteClaim) or simply connect (noteConnected:
// ask once, the old "sync on connect"). Every version is a full snapshot, so one sync from
// the peer claiming the highest version is enough; bursts of claims coalesce into it.
// What a sync returns goes through the same verification as gossip (the pinned key):
// a peer that claims a version and does not deliver it is retried with backoff and jitter,
// a bounded number of times, then ignored until it claims a higher version.
import type { Logger } from 'pino'
import { SYNC_TIMEOUT_MS } from '../../proto/sync-protocol.ts'

export interface CatchUpRetry {
  /** Delay after the first failed attempt; doubles per failure up to maxMs (± jitter). */
  baseMs: number
  maxMs: number
  /** Failed attempts on one claim before giving up on it. */
  attempts: number
}

export const CATCH_UP_RETRY: Readonly<CatchUpRetry> = Object.freeze({ baseMs: 250, maxMs: 5000, attempts: 5 })

/**
 * A heartbeat's claim waits this long before it starts a sync: a new version is usually
 * on its way by gossip, and at 20 nodes a third of the deliveries also ran a sync from a
 * faster peer that heartbeated first, each a stream, a transfer and a verification for a
 * copy that is then dropped. Shorter than a heartbeat interval, so a node that gossip
 * misses still syncs within about a second. A freshly connected peer is asked at once.
 */
export const CLAIM_GRACE_MS = 300

/**
 * What one peer says it holds. `failures` counts syncs from it that did not bring us to
 * `version`; after `attempts` of them the claim is `givenUp` until the peer claims more.
 */
export interface Claim {
  version: number
  failures: number
  /** No attempt before this time (ms, same clock as `now`). */
  notBefore: number
  givenUp: boolean
}

/** Pure: the delay before retrying after `failures` failed attempts; `random` in [0, 1). */
export function retryDelayMs (failures: number, retry: Pick<CatchUpRetry, 'baseMs' | 'maxMs'>, random: number): number {
  const ceiling = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, failures - 1))
  return Math.round(ceiling * (0.5 + random / 2))
}

/**
 * Pure: which peer to sync from now — the live claim with the highest version above
 * `held` that may be tried at `now` — or how long to wait for the earliest one, or nothing.
 */
export function pickSource (claims: ReadonlyMap<string, Claim>, held: number, now: number): { peerId: string, claim: Claim } | { waitMs: number } | undefined {
  let best: { peerId: string, claim: Claim } | undefined
  let earliest = Infinity
  for (const [peerId, claim] of claims) {
    if (claim.givenUp || claim.version <= held) continue
    if (claim.notBefore > now) { earliest = Math.min(earliest, claim.notBefore); continue }
    if (best === undefined || claim.version > best.claim.version) best = { peerId, claim }
  }
  if (best !== undefined) return best
  return earliest === Infinity ? undefined : { waitMs: earliest - now }
}

export interface CatchUpInit {
  /** The newest version this node holds (verified and stored). */
  heldVersion: () => number
  /**
   * Asks `peerId` over /lumos/sync/1 for what is newer than the held version and hands
   * every envelope to the verifier; throws when the exchange or a verification fails.
   */
  fetchFrom: (peerId: string, signal: AbortSignal) => Promise<void>
  logger: Logger
  retry?: Partial<CatchUpRetry>
  /** Default CLAIM_GRACE_MS. */
  claimGraceMs?: number
  now?: () => number
  random?: () => number
}

export class CatchUp {
  private readonly init: CatchUpInit
  private readonly retry: CatchUpRetry
  private readonly claimGraceMs: number
  private readonly now: () => number
  private readonly random: () => number
  private readonly claims = new Map<string, Claim>()
  /** Freshly connected peers to ask once, after the claims. */
  private readonly probes = new Set<string>()
  private readonly abort = new AbortController()
  private inFlight: Promise<void> | undefined
  private again = false
  private wakeTimer: NodeJS.Timeout | undefined
  private stopped = false

  constructor (init: CatchUpInit) {
    this.init = init
    this.retry = { ...CATCH_UP_RETRY, ...init.retry }
    this.claimGraceMs = init.claimGraceMs ?? CLAIM_GRACE_MS
    this.now = init.now ?? Date.now
    this.random = init.random ?? Math.random
  }

  /** A peer says it holds `version` (a heartbeat): synced after the grace unless it arrives meanwhile. */
  noteClaim (peerId: string, version: number): void {
    if (version <= this.init.heldVersion()) {
      this.claims.delete(peerId)
      return
    }
    const known = this.claims.get(peerId)
    if (known !== undefined && known.version >= version) return
    // A higher claim of a peer still in its grace keeps the deadline: claims cannot defer a sync forever.
    const notBefore = known !== undefined && known.failures === 0 ? known.notBefore : this.now() + this.claimGraceMs
    this.claims.set(peerId, { version, failures: 0, notBefore, givenUp: false })
    this.kick()
  }

  /** A peer connected: ask it once what it has (it may hold a newer version). */
  noteConnected (peerId: string): void {
    this.probes.add(peerId)
    this.kick()
  }

  /** A peer left the signed config: forget what it claimed. */
  forget (peerId: string): void {
    this.claims.delete(peerId)
    this.probes.delete(peerId)
  }

  /** Resolves when the sync in flight (if any) has finished; no new one starts. */
  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.wakeTimer)
    this.abort.abort()
    await this.inFlight
  }

  /** Starts the sync loop unless one runs; a running loop picks the new state up. */
  private kick (): void {
    if (this.stopped) return
    if (this.inFlight !== undefined) { this.again = true; return }
    this.again = false
    this.inFlight = this.drain().finally(() => {
      this.inFlight = undefined
      if (this.again) this.kick()
    })
  }

  private async drain (): Promise<void> {
    while (!this.stopped) {
      const held = this.init.heldVersion()
      for (const [peerId, claim] of this.claims) if (claim.version <= held) this.claims.delete(peerId)
      const next = pickSource(this.claims, held, this.now())
      if (next !== undefined && 'peerId' in next) {
        await this.attempt(next.peerId)
        this.settle(next.peerId, next.claim)
        continue
      }
      const probe = this.probes.values().next()
      if (!probe.done) {
        this.probes.delete(probe.value)
        await this.attempt(probe.value)
        continue
      }
      if (next !== undefined) this.wakeIn(next.waitMs)
      return
    }
  }

  private async attempt (peerId: string): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(SYNC_TIMEOUT_MS)])
    try {
      await this.init.fetchFrom(peerId, signal)
    } catch (err) {
      this.init.logger.debug({ err, peer: peerId }, 'sync from peer failed')
    }
  }

  /** After a sync from a claimer: done, retry later, or give up on that claim. */
  private settle (peerId: string, claim: Claim): void {
    const held = this.init.heldVersion()
    if (held >= claim.version) {
      this.init.logger.info({ peer: peerId, version: held }, 'caught up from peer')
      if (this.claims.get(peerId) === claim) this.claims.delete(peerId)
      return
    }
    if (this.claims.get(peerId) !== claim) return // the peer claimed more meanwhile: a fresh claim
    claim.failures++
    if (claim.failures >= this.retry.attempts) {
      claim.givenUp = true
      this.init.logger.warn({ peer: peerId, version: claim.version, held, attempts: claim.failures }, 'peer claims a newer version but did not deliver it; ignoring that claim')
      return
    }
    claim.notBefore = this.now() + retryDelayMs(claim.failures, this.retry, this.random())
  }

  private wakeIn (ms: number): void {
    clearTimeout(this.wakeTimer)
    this.wakeTimer = setTimeout(() => { this.kick() }, ms)
  }
}
