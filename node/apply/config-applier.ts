// The apply path of a shield node, one version at a time: render (pure) → skip when the
// bytes are unchanged → write the map under a content-addressed name and the config to a
// staging file (fsync) → `haproxy -c` → atomic rename → seamless reload → confirm the new
// worker. On failure the last-known-good config is restored and keeps serving.
// Bursts of versions coalesce: only the newest pending version is applied.
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { ConfigVersion } from '../../proto/codec.ts'
import { writeFileAtomic } from '../../proto/peer-key-file.ts'
import type { HaproxyControl } from '../haproxy/haproxy-control.ts'
import { renderHaproxyConfig } from '../render/render.ts'

export interface ApplyResult {
  version: number
  renderHash: string
  reloaded: boolean
  durationMs: number
}

export interface ConfigApplierInit {
  haproxy: HaproxyControl
  template: string
  serverId: string
  httpBind: string
  runDir: string
  logger: Logger
  /** Called after a version is live (or found unchanged). */
  onApplied: (result: ApplyResult) => Promise<void>
  /** Called when a version could not be applied; the previous config keeps serving. */
  onFailed: (version: number, err: Error) => void
}

export class ConfigApplier {
  private readonly init: ConfigApplierInit
  private pending: ConfigVersion | undefined
  private running: Promise<void> | undefined
  private liveHash: string | undefined

  constructor (init: ConfigApplierInit) {
    this.init = init
  }

  get configFile (): string { return join(this.init.runDir, 'haproxy.cfg') }

  /** Queues a version; resolves when it (or a newer one queued meanwhile) was attempted. */
  async schedule (config: ConfigVersion): Promise<void> {
    if (this.pending === undefined || this.pending.version < config.version) this.pending = config
    this.running ??= this.drain().finally(() => { this.running = undefined })
    await this.running
  }

  private async drain (): Promise<void> {
    while (this.pending !== undefined) {
      const config = this.pending
      this.pending = undefined
      try {
        await this.init.onApplied(await this.applyNow(config))
      } catch (err) {
        this.init.onFailed(config.version, err as Error)
      }
    }
  }

  private async applyNow (config: ConfigVersion): Promise<ApplyResult> {
    const started = performance.now()
    const { haproxy, runDir } = this.init
    const log = this.init.logger.child({ version: config.version })
    const mapsDir = join(runDir, 'maps')
    const firstRender = renderHaproxyConfig({ config, serverId: this.init.serverId, httpBind: this.init.httpBind, template: this.init.template, paths: { runDir, mapFile: join(mapsDir, 'hosts.map') } })
    const mapFile = join(mapsDir, `hosts-${firstRender.hash.slice(0, 16)}.map`)
    const rendered = renderHaproxyConfig({ config, serverId: this.init.serverId, httpBind: this.init.httpBind, template: this.init.template, paths: { runDir, mapFile } })
    const running = await haproxy.status()
    this.liveHash ??= await readFile(this.configFile, 'utf8').then(text => hashMarker(text), () => undefined)
    if (running !== undefined && this.liveHash === rendered.hash) {
      log.debug('rendered config unchanged; no reload')
      return { version: config.version, renderHash: rendered.hash, reloaded: false, durationMs: performance.now() - started }
    }
    await writeFileAtomic(mapFile, rendered.hostsMap)
    const staging = `${this.configFile}.staging`
    await writeFileAtomic(staging, withHashMarker(rendered.haproxyCfg, rendered.hash))
    await haproxy.check(staging)
    const lastGood = await readFile(this.configFile).catch(() => undefined)
    await writeFileAtomic(this.configFile, withHashMarker(rendered.haproxyCfg, rendered.hash))
    try {
      await haproxy.reload()
    } catch (err) {
      if (lastGood !== undefined) await writeFileAtomic(this.configFile, lastGood)
      log.error({ err }, 'reload failed; last-known-good config restored')
      throw err
    }
    this.liveHash = rendered.hash
    await removeStaleMaps(mapsDir, mapFile)
    const durationMs = performance.now() - started
    log.info({ domains: rendered.domainCount, durationMs: Math.round(durationMs) }, 'config applied and HAProxy reloaded')
    return { version: config.version, renderHash: rendered.hash, reloaded: true, durationMs }
  }
}

// The render hash is kept as the config's last line so a restarted node knows what is live.
const MARKER = '# lumos-render-hash '
function withHashMarker (cfg: string, hash: string): string { return `${cfg}${MARKER}${hash}\n` }
function hashMarker (text: string): string | undefined {
  const index = text.lastIndexOf(MARKER)
  return index < 0 ? undefined : text.slice(index + MARKER.length).trim()
}

async function removeStaleMaps (mapsDir: string, keep: string): Promise<void> {
  for (const name of await readdir(mapsDir)) {
    const path = join(mapsDir, name)
    if (path !== keep) await rm(path, { force: true })
  }
}
