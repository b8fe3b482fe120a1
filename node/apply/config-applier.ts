// The apply path of a shield node, one version at a time, as visible stages:
// render (pure) → certificates (self-signed until ACME) → skip when nothing changed →
// runtime API when only map/ACL entries and server addresses/weights changed (no reload;
// node/apply/runtime-plan.ts, node/apply/server-plan.ts) → otherwise write the changed
// generated files at their stable paths and the config to a staging file → `haproxy -c`
// → atomic rename → seamless reload → confirm the new worker. On failure the previous
// files and config (last-known-good) are put back, HAProxy keeps serving, and onFailed
// gets the error with HAProxy's message. Every reload is recorded (id, reason, duration,
// result). Bursts of versions coalesce: only the newest pending version is applied. A
// version that failed for any reason but an invalid config (a reload not confirmed in time
// on a starved machine, a port briefly taken) is retried a few times with backoff while no
// newer version arrives: otherwise the node would wait for the next change to converge.
import { readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { ConfigVersion } from '../../proto/codec.ts'
import { isLumosError } from '../../proto/lumos-error.ts'
import { writeFileAtomic } from '../../proto/peer-key-file.ts'
import type { HaproxyControl } from '../haproxy/haproxy-control.ts'
import { renderBackend } from '../render/backend.ts'
import { renderHaproxyConfig, type RenderedConfig, type RenderInput } from '../render/render.ts'
import type { NodeFeatures } from '../render/rules.ts'
import { SelfSignedCerts } from '../tls/self-signed-certs.ts'
import { pruneStale, readFileSet, restoreFiles, writeChanged } from './generated-files.ts'
import { originOnlyChanges } from './origin-change.ts'
import { changedFiles, planRuntimeUpdate, type FileSet } from './runtime-plan.ts'
import { planServerUpdate } from './server-plan.ts'

export interface ApplyResult {
  version: number
  /** The rendered config's hash; '' when origins moved through the runtime API before the config was rendered (written later). */
  renderHash: string
  /** HAProxy was reloaded (or started) for this version. */
  reloaded: boolean
  /** The change went live through the runtime API, without a reload. */
  runtime: boolean
  durationMs: number
}

export interface ReloadRecord {
  id: string
  version: number
  reason: string
  durationMs: number
  result: 'ok' | 'invalid-config' | 'failed'
  /** The error code and HAProxy's message when result is not ok. */
  error?: string
}

export interface ConfigApplierInit {
  haproxy: HaproxyControl
  template: string
  /** Absolute path of haproxy-templates/. */
  templatesDir: string
  serverId: string
  httpBind: string
  httpsBind: string
  runDir: string
  logger: Logger
  /** Makes the certificates the config references; self-signed ones under runDir/certs by default. */
  certs?: Pick<SelfSignedCerts, 'ensure'>
  /** The renderer; tests inject faults through it. */
  render?: (input: RenderInput) => RenderedConfig
  /** Called after a version is live (or found unchanged). */
  onApplied: (result: ApplyResult) => Promise<void>
  /** Called when a version could not be applied; the previous config keeps serving. */
  onFailed: (version: number, err: Error) => void
  /** Delays before the retries of a failed version; DEFAULT_RETRY_DELAYS_MS by default, [] for none. */
  retryDelaysMs?: readonly number[]
  /**
   * After origins moved through the runtime API without a render, haproxy.cfg is rendered
   * and written once no version came for this long (persistDelayFor by default); 0 writes
   * it right after each such version.
   */
  persistDelayMs?: number
}

/** Quiet time before an origin move HAProxy already runs is rendered and written to disk, per 1 000 domains. */
export const PERSIST_DELAY_MS = 1000

/**
 * The quiet time for an account of `domains` domains: the full render it waits to batch
 * grows with the account (10 000 domains: 10 s). With 1 s, a 20-node fleet of 10 000
 * domains rendered everything on every node between two changes of a burst, and the next
 * change waited for those renders (bench/propagation).
 */
export function persistDelayFor (domains: number): number {
  return PERSIST_DELAY_MS * Math.max(1, Math.ceil(domains / 1000))
}

/** Retries of a failed version: about 2 s, 5 s, 15 s after each failure (±20 % jitter). */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [2000, 5000, 15_000]

/** Reload records kept in memory (the log has them all). */
const RELOAD_HISTORY = 50

export class ConfigApplier {
  private readonly init: ConfigApplierInit
  private readonly certs: Pick<SelfSignedCerts, 'ensure'>
  private pending: ConfigVersion | undefined
  private running: Promise<void> | undefined
  private reloadCount = 0
  private readonly history: ReloadRecord[] = []
  private failure: { version: number, err: Error } | undefined
  /** The newest version ever scheduled: a retry is for it only. */
  private newest = -1
  private retry: { version: number, attempt: number, timer: NodeJS.Timeout } | undefined
  /**
   * What this process last wrote as haproxy.cfg and the generated files, so an apply does not
   * read ~1 MB back from disk at 1 000 domains; undefined after a start or a failed write
   * (then read from disk). Only this applier writes them.
   */
  private onDisk: OnDisk | undefined
  /** The version HAProxy runs as far as this applier knows, and the node features of its last full render. */
  private live: { config: ConfigVersion, features: NodeFeatures } | undefined
  /** HAProxy runs `live` through runtime commands that haproxy.cfg on disk does not have yet. */
  private unwritten = false
  private persistTimer: NodeJS.Timeout | undefined
  private persistDue = false

  constructor (init: ConfigApplierInit) {
    this.init = init
    this.certs = init.certs ?? new SelfSignedCerts({ runDir: init.runDir })
  }

  get configFile (): string { return join(this.init.runDir, 'haproxy.cfg') }
  /** HAProxy is running (whatever config it serves). */
  async isServing (): Promise<boolean> { return (await this.init.haproxy.status()) !== undefined }
  /** The most recent reloads, oldest first. */
  get reloads (): readonly ReloadRecord[] { return this.history }
  /** The last version that failed to apply and why; cleared when a later one applies. */
  get lastFailure (): { version: number, err: Error } | undefined { return this.failure }

  /** Queues a version; resolves when it (or a newer one queued meanwhile) was attempted. */
  async schedule (config: ConfigVersion): Promise<void> {
    this.newest = Math.max(this.newest, config.version)
    if (this.pending === undefined || this.pending.version < config.version) this.pending = config
    await this.kick()
  }

  /** Runs the queue (versions, then a due write) unless it runs already. */
  private async kick (): Promise<void> {
    this.running ??= this.drain().finally(() => { this.running = undefined })
    await this.running
  }

  private async drain (): Promise<void> {
    while (this.pending !== undefined || this.persistDue) {
      if (this.pending === undefined) {
        await this.writeLive()
        continue
      }
      const config = this.pending
      this.pending = undefined
      try {
        const { result, persist } = await this.applyNow(config)
        try {
          this.failure = undefined
          this.cancelRetry()
          await this.init.onApplied(result)
        } finally {
          await persist?.()
        }
      } catch (err) {
        this.failure = { version: config.version, err: err as Error }
        this.init.onFailed(config.version, err as Error)
        this.retryLater(config, err as Error)
      }
    }
  }

  /** Schedules the failed version again after a backoff, unless the failure is final or a newer version came. */
  private retryLater (config: ConfigVersion, err: Error): void {
    const attempt = this.retry?.version === config.version ? this.retry.attempt + 1 : 0
    this.cancelRetry()
    const delay = (this.init.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS)[attempt]
    if (delay === undefined || (isLumosError(err) && err.code === 'HAPROXY_INVALID_CONFIG')) return
    const timer = setTimeout(() => {
      if (this.newest !== config.version) return
      this.init.logger.info({ version: config.version, attempt: attempt + 1 }, 'retrying a version that failed to apply')
      void this.schedule(config)
    }, Math.round(delay * (0.8 + Math.random() * 0.4)))
    // A pending retry never keeps the process alive.
    timer.unref()
    this.retry = { version: config.version, attempt, timer }
  }

  private cancelRetry (): void {
    if (this.retry !== undefined) clearTimeout(this.retry.timer)
    // The attempt count is kept while the same version keeps failing; a success resets it.
    if (this.failure === undefined) this.retry = undefined
  }

  /** Cancels a pending retry (the daemon is stopping). */
  stop (): void {
    if (this.retry !== undefined) clearTimeout(this.retry.timer)
    this.retry = undefined
    // An unwritten origin move is not lost: a restarted node applies the stored version again.
    clearTimeout(this.persistTimer)
  }

  /** Applies one version; `persist`, when set, writes files HAProxy already runs from memory (after onApplied, before the next apply). */
  private async applyNow (config: ConfigVersion): Promise<{ result: ApplyResult, persist?: () => Promise<void> }> {
    const started = performance.now()
    const { haproxy, runDir } = this.init
    const log = this.init.logger.child({ version: config.version })
    const moved = await this.moveOrigins(config, log, started)
    if (moved !== undefined) return moved
    // The full way starts from what HAProxy runs being on disk.
    if (this.unwritten) await this.writeLive()
    const rendered = this.render(config)
    const renderMs = performance.now() - started
    const madeCerts = await this.certs.ensure(rendered.certificates)
    const onDisk = this.onDisk
    const live = onDisk?.live ?? await readFile(this.configFile, 'utf8').then(splitHashMarker, () => undefined)
    const result = (reloaded: boolean, runtime: boolean): { result: ApplyResult } => ({ result: { version: config.version, renderHash: rendered.hash, reloaded, runtime, durationMs: performance.now() - started } })
    if (live?.hash === rendered.hash && madeCerts.length === 0 && await haproxy.status() !== undefined) {
      this.live = { config, features: rendered.features }
      log.debug('rendered config unchanged; no reload')
      return result(false, false)
    }
    const paths = Object.keys(rendered.files)
    const current = onDisk === undefined ? await readFileSet(runDir, paths) : Object.fromEntries(paths.map(path => [path, onDisk.files[path]]))
    const written: OnDisk = { live: { cfg: rendered.haproxyCfg, hash: rendered.hash }, files: rendered.files }
    const servers = live === undefined ? undefined : planServerUpdate(live.cfg, rendered.haproxyCfg)
    const entries = servers === undefined || madeCerts.length > 0 ? undefined : planRuntimeUpdate(runDir, current, rendered.files)
    let runtimeError: Error | undefined
    const commands = servers === undefined || entries === undefined ? undefined : [...servers, ...entries]
    // Straight to the runtime API: a command that goes through proves HAProxy runs, so the
    // master is asked (one more round trip to a process a loaded machine may not schedule
    // soon) only when it fails, or when there is no command to prove it (a restart).
    if (servers !== undefined && commands !== undefined && (commands.length > 0 || await haproxy.status() !== undefined)) {
      try {
        await haproxy.runtime(commands)
        this.onDisk = written
        this.live = { config, features: rendered.features }
        this.unwritten = false
        const durationMs = performance.now() - started
        log.info({ domains: rendered.domainCount, commands: commands.length, servers: servers.length, files: changedFiles(current, rendered.files), durationMs: round(durationMs) }, 'config applied through the runtime API')
        // HAProxy runs the change: the files follow after onApplied (fsyncs of ~1 MB are off the
        // version's path), before the next apply. A node killed in between finds the previous
        // files and config on disk, re-applies the stored version and converges.
        return { ...result(false, true), persist: async () => { await this.persist(written, current, log) } }
      } catch (err) {
        runtimeError = err as Error
      }
    }
    let reason: string
    if (await haproxy.status() === undefined) reason = 'HAProxy not running: start'
    else if (servers === undefined) reason = 'haproxy.cfg changed beyond server addresses and weights'
    else if (madeCerts.length > 0) reason = `certificates made: ${summarize(madeCerts)}`
    else if (runtimeError !== undefined) {
      log.warn({ err: runtimeError }, 'runtime API update failed; reloading instead')
      reason = `runtime API update failed: ${runtimeError.message.slice(0, 200)}`
    } else {
      reason = `files changed: ${summarize(changedFiles(current, rendered.files))}`
    }
    this.onDisk = undefined
    this.live = undefined
    const timings = await this.reload(config.version, rendered, current, reason, log)
    this.onDisk = written
    this.live = { config, features: rendered.features }
    this.unwritten = false
    const durationMs = performance.now() - started
    log.info({ domains: rendered.domainCount, reason, renderMs: round(renderMs), ...timings, durationMs: round(durationMs) }, 'config applied and HAProxy reloaded')
    return result(true, false)
  }

  private render (config: ConfigVersion): RenderedConfig {
    const render = this.init.render ?? renderHaproxyConfig
    return render({ config, serverId: this.init.serverId, httpBind: this.init.httpBind, httpsBind: this.init.httpsBind, template: this.init.template, paths: { runDir: this.init.runDir, templatesDir: this.init.templatesDir } })
  }

  /**
   * The short way for a version that only moves origins (node/apply/origin-change.ts): the
   * server commands planned from the changed domains' backends, sent to the runtime API,
   * and haproxy.cfg rendered and written later (persistDelayMs), once for a burst. At
   * 1 000 domains the full render and its hash were most of an apply's CPU, and every node
   * of a shared machine paid it for every change. undefined: take the full way. Not with
   * an injected renderer (tests put faults in the render).
   */
  private async moveOrigins (config: ConfigVersion, log: Logger, started: number): Promise<{ result: ApplyResult, persist?: () => Promise<void> } | undefined> {
    const live = this.live
    if (live === undefined || this.onDisk === undefined || this.init.render !== undefined) return undefined
    const pairs = originOnlyChanges(live.config, config)
    if (pairs === undefined) return undefined
    const ctx = { config, runDir: this.init.runDir, templatesDir: this.init.templatesDir, node: live.features }
    const commands: string[] = []
    for (const [before, after] of pairs) {
      if (!after.serverIds.includes(this.init.serverId)) continue
      const planned = planServerUpdate(renderBackend(before, ctx, new Map()), renderBackend(after, ctx, new Map()))
      if (planned === undefined) return undefined
      commands.push(...planned)
    }
    try {
      // No command to prove HAProxy runs (a change to other servers' domains): ask its master.
      if (commands.length > 0) await this.init.haproxy.runtime(commands)
      else if (await this.init.haproxy.status() === undefined) return undefined
    } catch (err) {
      log.warn({ err }, 'runtime API update failed; taking the full way')
      return undefined
    }
    this.live = { config, features: live.features }
    this.unwritten = this.unwritten || commands.length > 0
    const durationMs = performance.now() - started
    log.info({ domains: pairs.length, commands: commands.length, servers: commands.length, files: [], durationMs: round(durationMs) }, 'config applied through the runtime API')
    const result: ApplyResult = { version: config.version, renderHash: '', reloaded: false, runtime: commands.length > 0, durationMs }
    if (!this.unwritten) return { result }
    const delayMs = this.init.persistDelayMs ?? persistDelayFor(config.domains.length)
    if (delayMs === 0) return { result, persist: async () => { await this.writeLive() } }
    // Re-armed by every version: written once the burst is over.
    clearTimeout(this.persistTimer)
    this.persistTimer = setTimeout(() => {
      this.persistDue = true
      void this.kick()
    }, delayMs)
    this.persistTimer.unref()
    return { result }
  }

  /** Renders the version HAProxy runs and writes it, when origin moves left haproxy.cfg behind. */
  private async writeLive (): Promise<void> {
    this.persistDue = false
    clearTimeout(this.persistTimer)
    const live = this.live
    if (!this.unwritten || live === undefined || this.onDisk === undefined) return
    const rendered = this.render(live.config)
    const written: OnDisk = { live: { cfg: rendered.haproxyCfg, hash: rendered.hash }, files: rendered.files }
    const current = this.onDisk.files
    this.onDisk = written
    this.unwritten = false
    await this.persist(written, current, this.init.logger.child({ version: live.config.version }))
  }

  /** Writes what the runtime API made live; on failure the next apply reads the disk again. */
  private async persist (next: OnDisk, current: FileSet, log: Logger): Promise<void> {
    try {
      await writeChanged(this.init.runDir, current, next.files)
      // The config with its hash, so a restart or the next diff starts from what runs.
      await writeFileAtomic(this.configFile, withHashMarker(next.live.cfg, next.live.hash))
      await pruneStale(this.init.runDir, next.files)
    } catch (err) {
      if (this.onDisk === next) this.onDisk = undefined
      log.error({ err }, 'could not write the config HAProxy runs through the runtime API; the next apply reads the disk again (check free space and permissions of the run dir)')
    }
  }

  /** Writes, checks, swaps and reloads; restores the last-known-good files and config on failure. */
  private async reload (version: number, rendered: RenderedConfig, current: FileSet, reason: string, log: Logger): Promise<{ reloadId: string, checkMs: number, reloadMs: number }> {
    const { haproxy, runDir } = this.init
    const id = `${version}-${++this.reloadCount}`
    const rlog = log.child({ reloadId: id })
    const started = performance.now()
    const lastGoodCfg = await readFile(this.configFile).catch(() => undefined)
    const written = await writeChanged(runDir, current, rendered.files)
    const staging = `${this.configFile}.staging`
    const restore = async (): Promise<void> => {
      await restoreFiles(runDir, current, written)
      if (lastGoodCfg !== undefined) await writeFileAtomic(this.configFile, lastGoodCfg)
    }
    const record = (result: ReloadRecord['result'], err?: Error): void => {
      const entry: ReloadRecord = { id, version, reason, durationMs: round(performance.now() - started), result }
      if (err !== undefined) entry.error = `${isLumosError(err) ? err.code : err.name}: ${err.message}`
      this.history.push(entry)
      if (this.history.length > RELOAD_HISTORY) this.history.shift()
      const fields = { reloadId: id, reason, durationMs: entry.durationMs, result, ...(err === undefined ? {} : { err }) }
      if (result === 'ok') log.info(fields, 'HAProxy reload')
      else log.error(fields, 'HAProxy reload')
    }
    await writeFileAtomic(staging, withHashMarker(rendered.haproxyCfg, rendered.hash))
    try {
      await haproxy.check(staging)
    } catch (err) {
      await restore()
      await rm(staging, { force: true })
      record('invalid-config', err as Error)
      rlog.error({ err }, 'rendered config refused by haproxy -c; previous files restored')
      throw err
    }
    const checkMs = performance.now() - started
    // The checked file (written and fsynced) becomes the config: a rename, atomic, instead
    // of writing and fsyncing the same ~300 KB (1 000 domains) a second time.
    await rename(staging, this.configFile)
    try {
      await haproxy.reload()
    } catch (err) {
      await restore()
      record('failed', err as Error)
      rlog.error({ err }, 'reload failed; last-known-good config and files restored')
      throw err
    }
    record('ok')
    await pruneStale(runDir, rendered.files)
    return { reloadId: id, checkMs: round(checkMs), reloadMs: round(performance.now() - started - checkMs) }
  }
}

/** haproxy.cfg (without its hash line) and the generated files, as on disk. */
interface OnDisk {
  live: { cfg: string, hash: string }
  files: Record<string, string>
}

// The render hash is kept as the config's last line so a restarted node knows what is live.
const MARKER = '# lumos-render-hash '
function withHashMarker (cfg: string, hash: string): string { return `${cfg}${MARKER}${hash}\n` }
function splitHashMarker (text: string): { cfg: string, hash: string | undefined } {
  const index = text.lastIndexOf(MARKER)
  return index < 0 ? { cfg: text, hash: undefined } : { cfg: text.slice(0, index), hash: text.slice(index + MARKER.length).trim() }
}

function summarize (paths: readonly string[]): string {
  return paths.length <= 5 ? paths.join(', ') : `${paths.slice(0, 5).join(', ')} and ${paths.length - 5} more`
}

function round (ms: number): number { return Math.round(ms * 10) / 10 }
