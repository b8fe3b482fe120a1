// Is this node's HAProxy actually answering? A live master process is not enough: a worker
// can be stuck, a bind lost, a reload half-done. About every second the node GETs
// /.lumos/health on its own HTTP bind, which HAProxy answers itself (`monitor-uri` in the
// frontend of haproxy-templates/haproxy.cfg.tpl), with a short timeout. Debounced:
// FAILURES_TO_UNHEALTHY failures in a row make it unhealthy, one success healthy again. A
// stall of the node's own event loop does not count against HAProxy (lagTolerantTimeout).
// The result travels in this node's heartbeat (Heartbeat.haproxy_healthy), and the peers'
// failure detectors turn it into the `unhealthy` view.
import { request } from 'node:http'
import type { Logger } from 'pino'

/** The URI HAProxy answers itself with 200 (monitor-uri in haproxy.cfg.tpl). */
export const HEALTH_URI = '/.lumos/health'
export const HEALTH_CHECK_INTERVAL_MS = 1000
export const HEALTH_CHECK_TIMEOUT_MS = 800
/** Consecutive failed checks before HAProxy counts as unhealthy (one blip is not a failure). */
export const FAILURES_TO_UNHEALTHY = 2

/** One check: resolves true when `url` answered 200 before `signal` aborted. */
export type HealthFetcher = (url: string, signal: AbortSignal) => Promise<boolean>

export interface HaproxyHealthInit {
  /** What to GET, e.g. healthUrlOf(config.httpBind). */
  url: string
  logger: Logger
  /** Defaults to httpGetOk: a fresh connection per check, so a reload's old worker is never asked. */
  fetcher?: HealthFetcher
  intervalMs?: number
  timeoutMs?: number
  failuresToUnhealthy?: number
  /** Called when the debounced result changes. */
  onChange?: (healthy: boolean) => void
}

/** The health URL on a HAProxy bind like ':80', '0.0.0.0:8080', '127.0.0.1:8080' or '[::]:80'. */
export function healthUrlOf (bind: string): string {
  const colon = bind.lastIndexOf(':')
  let host = bind.slice(0, colon).replace(/^\[|\]$/g, '')
  const port = bind.slice(colon + 1)
  if (host === '' || host === '*' || host === '0.0.0.0') host = '127.0.0.1'
  if (host === '::') host = '::1'
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}${HEALTH_URI}`
}

/** GET without keep-alive; true on a 200 answer. */
export async function httpGetOk (url: string, signal: AbortSignal): Promise<boolean> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, signal, headers: { connection: 'close' } }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode === 200) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** How many times a late timer may give a check a fresh window (see lagTolerantTimeout). */
export const MAX_LAG_EXTENSIONS = 3

/**
 * Aborts after `ms` during which this process could have read the answer. A timer that
 * fires more than `ms / 2` late means the event loop itself was blocked (GC, a big config
 * being decoded and rendered, a starved CPU): the answer may be sitting unread in the
 * socket, or the request not even sent, so HAProxy gets a fresh window instead of being
 * called dead for the node's own stall — at most MAX_LAG_EXTENSIONS times. With a plain
 * timeout, the timer phase runs before the poll phase that would deliver the answer.
 */
export function lagTolerantTimeout (ms: number): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let extensions = 0
  const arm = (): void => {
    const due = performance.now() + ms
    timer = setTimeout(() => {
      if (performance.now() - due > ms / 2 && extensions < MAX_LAG_EXTENSIONS) {
        extensions++
        arm()
        return
      }
      controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError'))
    }, ms)
  }
  arm()
  return { signal: controller.signal, clear: () => { clearTimeout(timer) } }
}

export class HaproxyHealth {
  private readonly init: HaproxyHealthInit
  private readonly fetcher: HealthFetcher
  private readonly intervalMs: number
  private readonly timeoutMs: number
  private readonly failuresToUnhealthy: number
  private failures = 0
  private current = true
  private timer: NodeJS.Timeout | undefined
  private running = false
  private stopping = new AbortController()

  constructor (init: HaproxyHealthInit) {
    this.init = init
    this.fetcher = init.fetcher ?? httpGetOk
    this.intervalMs = init.intervalMs ?? HEALTH_CHECK_INTERVAL_MS
    this.timeoutMs = init.timeoutMs ?? HEALTH_CHECK_TIMEOUT_MS
    this.failuresToUnhealthy = init.failuresToUnhealthy ?? FAILURES_TO_UNHEALTHY
  }

  /**
   * The debounced result. Presumed healthy until FAILURES_TO_UNHEALTHY checks fail, like a
   * peer presumed alive, so a node is not reported unhealthy during its first second.
   */
  get healthy (): boolean { return this.current }

  start (): void {
    if (this.running) return
    this.running = true
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
    void this.loop()
  }

  stop (): void {
    this.running = false
    clearTimeout(this.timer)
    this.timer = undefined
    this.stopping.abort()
  }

  /** Runs one check now and returns the debounced result. */
  async check (): Promise<boolean> {
    let ok: boolean
    const timeout = lagTolerantTimeout(this.timeoutMs)
    try {
      ok = await this.fetcher(this.init.url, AbortSignal.any([this.stopping.signal, timeout.signal]))
    } catch (err) {
      this.init.logger.debug({ err, url: this.init.url }, 'HAProxy health check failed')
      ok = false
    } finally {
      timeout.clear()
    }
    if (this.stopping.signal.aborted) return this.current
    this.failures = ok ? 0 : this.failures + 1
    const healthy = ok || (this.current && this.failures < this.failuresToUnhealthy)
    if (healthy !== this.current) {
      this.current = healthy
      if (healthy) this.init.logger.info({ url: this.init.url }, 'HAProxy answers its health check again')
      else this.init.logger.warn({ url: this.init.url, failures: this.failures }, 'HAProxy does not answer its health check; reported unhealthy')
      this.init.onChange?.(healthy)
    }
    return this.current
  }

  /** Checks never overlap: a slow check delays the next one. */
  private async loop (): Promise<void> {
    await this.check()
    if (!this.running) return
    this.timer = setTimeout(() => { void this.loop() }, this.intervalMs)
  }
}
