// Tells a late copy of a config version from a replay. A node can hold version N before an
// honest peer's copy of N-1 reaches it: N came another way (straight from the coordinator
// while the peer's copy waited behind TCP resends, or through /lumos/sync/1). That copy is
// no fault of its sender, and the gossip validator must not score it as one: a few late
// copies after a burst on a lossy link graylisted honest senders, the coordinator
// included, and the node ignored their gossip for minutes (test/e2e/lossy-mesh).
// Peers forward a version as soon as they take it and nothing re-announces it later
// (mcacheGossip 0), so an honest copy is late by a network delay: a version superseded
// longer than the window ago is no longer on its way from anyone honest; it is a replay.

/** How long after a version was superseded a copy of it may still arrive from an honest peer. */
export const LATE_COPY_WINDOW_MS = 10_000

export class LateCopies {
  private readonly windowMs: number
  private readonly now: () => number
  /** Changes of the newest held version within the window, oldest first: the version held before, and when. */
  private readonly changes: Array<{ previous: number, at: number }> = []

  constructor (windowMs = LATE_COPY_WINDOW_MS, now: () => number = Date.now) {
    this.windowMs = windowMs
    this.now = now
  }

  /** The newest held version was `previous` until now. */
  superseded (previous: number): void {
    this.changes.push({ previous, at: this.now() })
    this.prune()
  }

  /**
   * True when `version`, older than `held` (the newest held now), was superseded within the
   * window: at the first change in it, the version held then and every one up to the next
   * (skipped ones included) stopped being news.
   */
  isLate (version: number, held: number): boolean {
    this.prune()
    return version >= (this.changes[0]?.previous ?? held) && version < held
  }

  private prune (): void {
    const since = this.now() - this.windowMs
    while (this.changes.length > 0 && (this.changes[0] as { at: number }).at <= since) this.changes.shift()
  }
}
