// Gives the V8 heap back to the system once applies are quiet, when it grew a lot since the
// last time (a large account's decode and render: ~35 MB more heap at 10 000 domains, which
// V8 would otherwise keep). `--optimize-for-size` did this on its own, but cost every change
// about a third more CPU (node/runtime-flags.ts); one "last resort" full GC (a few tens of ms)
// after a large apply costs once. Needs `gc` (the daemon runs with --expose-gc,
// NODE_V8_FLAGS); without it, nothing happens.
import { getHeapStatistics } from 'node:v8'
import type { Logger } from 'pino'

/** Applies must be this quiet before the heap is released: a burst of changes releases once. */
export const RELEASE_QUIET_MS = 2000
/** Heap growth since the last release (or start) that is worth a full GC. */
export const RELEASE_GROWTH_BYTES = 16 * 1024 * 1024

export interface HeapReleaseInit {
  logger: Logger
  quietMs?: number
  growthBytes?: number
  /** The size of the heap V8 holds (test seam). */
  heapBytes?: () => number
  /** Full GC that returns memory (test seam); globalThis.gc when exposed. */
  collect?: (() => void) | undefined
}

export class HeapRelease {
  private readonly init: HeapReleaseInit
  private readonly heapBytes: () => number
  private readonly collect: (() => void) | undefined
  private baseline: number
  private timer: NodeJS.Timeout | undefined

  constructor (init: HeapReleaseInit) {
    this.init = init
    this.heapBytes = init.heapBytes ?? (() => getHeapStatistics().total_heap_size)
    const gc = globalThis.gc
    this.collect = 'collect' in init ? init.collect : gc === undefined ? undefined : () => { gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) }
    this.baseline = this.heapBytes()
  }

  /** An apply ended: (re)starts the quiet period. */
  applied (): void {
    if (this.collect === undefined) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.releaseIfGrown() }, this.init.quietMs ?? RELEASE_QUIET_MS)
    this.timer.unref()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private releaseIfGrown (): void {
    const before = this.heapBytes()
    if (this.collect === undefined || before - this.baseline < (this.init.growthBytes ?? RELEASE_GROWTH_BYTES)) return
    const started = performance.now()
    this.collect()
    this.baseline = this.heapBytes()
    const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10
    this.init.logger.info({ heapMB: mb(before), heapAfterMB: mb(this.baseline), durationMs: Math.round(performance.now() - started) }, 'heap released after a large apply')
  }
}
