// bench/dataplane: (1) render time and `haproxy -c` time for 10 / 1 000 / 10 000 domains
// on one node (target: render < 200 ms at 10 000); (2) failed requests during 100 config
// reloads under wrk load (target 0), through our apply path, beside two baselines: 100 bare
// HAProxy master-CLI reloads of the same config, and of that config without our reload
// settings (HAProxy's seamless reload out of the box). wrk's socket errors are recorded by
// kind (connect/read/write/timeout), and the old workers left draining.
// Usage: npm run bench -- dataplane [--reloads 100] [--skip-render: reloads only, prints, writes nothing]
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { pino } from 'pino'
import { ConfigApplier } from '../../node/apply/config-applier.ts'
import { cliCommand, HaproxyControl } from '../../node/haproxy/haproxy-control.ts'
import { renderHaproxyConfig } from '../../node/render/render.ts'
import type { ConfigVersion } from '../../proto/codec.ts'
import { freePort } from '../../scripts/fleet/local-fleet.ts'
import { largeConfig } from '../envelope-size.ts'
import { percentile } from '../lib/stats.ts'

const run = promisify(execFile)
const TEMPLATES_DIR = new URL('../../haproxy-templates', import.meta.url).pathname
const template = await readFile(join(TEMPLATES_DIR, 'haproxy.cfg.tpl'), 'utf8')
const SERVER = 'srv_000000000000'
const { values } = parseArgs({ options: { reloads: { type: 'string', default: '100' }, 'skip-render': { type: 'boolean', default: false } } })

/** N domains all on one server, proxied to `originPort`. */
function nodeConfig (domains: number, originPort: number, version = 1, rateLimit = true): ConfigVersion {
  const config = largeConfig(1, domains)
  config.version = version
  for (const d of config.domains) {
    d.origins = [{ address: '127.0.0.1', port: originPort, weight: 100, tls: false }]
    d.serverIds = [SERVER]
    // Under wrk every request comes from one client IP: a rate limit would answer 429s.
    if (!rateLimit) d.waf = { ...d.waf, rateLimitRequests: 0 }
  }
  return config
}

async function startApplier (dir: string, httpPort: number, tpl = template): Promise<{ applier: ConfigApplier, haproxy: HaproxyControl }> {
  const haproxy = new HaproxyControl({ binary: 'haproxy', configFile: join(dir, 'haproxy.cfg'), masterSocket: join(dir, 'master.sock'), pidFile: join(dir, 'haproxy.pid') })
  const applier = new ConfigApplier({
    haproxy, template: tpl, templatesDir: TEMPLATES_DIR, serverId: SERVER, httpBind: `127.0.0.1:${httpPort}`, httpsBind: `127.0.0.1:${await freePort()}`,
    runDir: dir, logger: pino({ level: 'silent' }), onApplied: async () => {}, onFailed: (version, err) => { throw new Error(`version ${version} failed: ${err.message}`) }
  })
  return { applier, haproxy }
}

async function renderCase (domains: number, originPort: number): Promise<Record<string, number>> {
  const config = nodeConfig(domains, originPort)
  const input = { config, serverId: SERVER, httpBind: '127.0.0.1:1', httpsBind: '127.0.0.1:2', template, paths: { runDir: '/run/lumos-bench', templatesDir: TEMPLATES_DIR } }
  const times: number[] = []
  for (let i = 0; i < 7; i++) {
    const started = performance.now()
    renderHaproxyConfig(input)
    times.push(performance.now() - started)
  }
  const dir = await mkdtemp(join(tmpdir(), 'lumos-bd-'))
  const { applier, haproxy } = await startApplier(dir, await freePort())
  try {
    await applier.schedule(config)
    const started = performance.now()
    await run('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')], { maxBuffer: 64 << 20 })
    const checkMs = performance.now() - started
    return { domains, renderMsMedian: Math.round(percentile(times, 50) * 10) / 10, renderMsMax: Math.round(Math.max(...times) * 10) / 10, haproxyCheckMs: Math.round(checkMs) }
  } finally {
    await haproxy.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** The template's reload settings (docs/decisions/008-reload-drain.md), removed for the out-of-the-box baseline. */
const RELOAD_SETTINGS = [/^ {4}hard-stop-after .*\n/m, /^ {4}mworker-max-reloads .*\n/m, /^ {4}option idle-close-on-response\n/m]

/** The template as HAProxy's seamless reload gives it out of the box: without our reload settings. */
function withoutReloadSettings (tpl: string): string {
  for (const setting of RELOAD_SETTINGS) {
    if (!setting.test(tpl)) throw new Error(`template lost its reload setting ${String(setting)}: update bench/dataplane/run.ts`)
    tpl = tpl.replace(setting, '')
  }
  return tpl
}

interface SocketErrors { connect: number, read: number, write: number, timeout: number }
interface WrkResult { requests: number, seconds: number, non2xx: number, socketErrors: SocketErrors, raw: string }

function parseWrk (out: string): WrkResult {
  const totals = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(out)
  if (totals === null) throw new Error(`wrk printed no summary:\n${out}`)
  const seconds = Number(totals[2]) * ({ ms: 0.001, s: 1, m: 60 }[totals[3] as 'ms' | 's' | 'm'])
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const [connect, read, write, timeout] = errors === null ? [0, 0, 0, 0] : errors.slice(1).map(Number) as [number, number, number, number]
  return { requests: Number(totals[1]), seconds: Math.round(seconds * 10) / 10, non2xx, socketErrors: { connect, read, write, timeout }, raw: out.trim() }
}

/**
 * Runs `reload` n times while wrk loads the shield, then stops wrk (SIGINT makes it print
 * its summary) once the last old worker had a second to drain: every reload is under load
 * however long the reloads take on a busy machine.
 */
async function underLoad (haproxy: HaproxyControl, httpPort: number, reload: (i: number) => Promise<void>, n: number): Promise<Record<string, unknown>> {
  const wrk = spawn('wrk', ['-t2', '-c32', '-d600s', '-H', 'Host: site0.customer0.example.com', `http://127.0.0.1:${httpPort}/`], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  wrk.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
  const exited = new Promise(resolve => wrk.on('close', resolve))
  await new Promise(resolve => setTimeout(resolve, 500))
  const before = await haproxy.status()
  const started = performance.now()
  let oldWorkersMax = 0
  for (let i = 1; i <= n; i++) {
    await reload(i)
    oldWorkersMax = Math.max(oldWorkersMax, (await haproxy.status())?.oldWorkerPids.length ?? 0)
  }
  const reloadSeconds = (performance.now() - started) / 1000
  await new Promise(resolve => setTimeout(resolve, 1000))
  const oldWorkersUnderLoad = (await haproxy.status())?.oldWorkerPids.length ?? 0
  wrk.kill('SIGINT')
  await exited
  const result = parseWrk(out)
  // wrk's connections are gone: what is left is what would pile up.
  await new Promise(resolve => setTimeout(resolve, 2000))
  const after = await haproxy.status()
  const { connect, read, write, timeout } = result.socketErrors
  return {
    haproxyReloads: (after?.reloads ?? 0) - (before?.reloads ?? 0),
    reloadSeconds: Math.round(reloadSeconds * 10) / 10,
    requests: result.requests,
    loadSeconds: result.seconds,
    failed: result.non2xx + connect + read + write + timeout,
    non2xx: result.non2xx,
    socketErrors: result.socketErrors,
    oldWorkersMax,
    oldWorkersUnderLoad,
    oldWorkersLeft: after?.oldWorkerPids.length ?? 0
  }
}

/** Bare HAProxy: a master-CLI `reload`, waited for, no pipeline around it. */
async function bareReload (haproxy: HaproxyControl): Promise<void> {
  const reloadsBefore = (await haproxy.status())?.reloads ?? 0
  await cliCommand(haproxy.paths.masterSocket, 'reload')
  while (((await haproxy.status())?.reloads ?? 0) <= reloadsBefore) await new Promise(resolve => setTimeout(resolve, 5))
  await new Promise(resolve => setTimeout(resolve, 100))
}

async function withShield<T> (tpl: string, use: (applier: ConfigApplier, haproxy: HaproxyControl, httpPort: number) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-br-'))
  const httpPort = await freePort()
  const { applier, haproxy } = await startApplier(dir, httpPort, tpl)
  try {
    return await use(applier, haproxy, httpPort)
  } finally {
    await haproxy.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function reloadCase (reloads: number, originPorts: [number, number]): Promise<Record<string, unknown>> {
  // Ours: each version adds or removes a domain and moves the origin, so each one is a real
  // render → check → reload (an origin move alone goes through the runtime API).
  const version = (i: number): ConfigVersion => nodeConfig(10 + (i % 2), originPorts[i % 2] as number, i + 1, false)
  const [ours, bareTuned] = await withShield(template, async (applier, haproxy, httpPort) => {
    await applier.schedule(version(0))
    const ours = await underLoad(haproxy, httpPort, async (i) => { await applier.schedule(version(i)) }, reloads)
    // Baseline 1: the bare HAProxy seamless reload of the same config.
    const bareTuned = await underLoad(haproxy, httpPort, async () => { await bareReload(haproxy) }, reloads)
    return [ours, bareTuned]
  })
  // Baseline 2: the same config without our reload settings, HAProxy's seamless reload out of the box.
  const bareDefault = await withShield(withoutReloadSettings(template), async (applier, haproxy, httpPort) => {
    await applier.schedule(version(0))
    return await underLoad(haproxy, httpPort, async () => { await bareReload(haproxy) }, reloads)
  })
  return { reloads, load: 'wrk -t2 -c32, keep-alive', ours, bareHaproxyTuned: bareTuned, bareHaproxyDefault: bareDefault }
}

const origins = [0, 1].map(() => createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n') }))
const originPorts: [number, number] = [await freePort(), await freePort()]
await Promise.all(origins.map(async (server, i) => { await new Promise<void>(resolve => server.listen(originPorts[i], '127.0.0.1', resolve)) }))
try {
  const render = []
  if (!values['skip-render']) for (const domains of [10, 1000, 10_000]) render.push(await renderCase(domains, originPorts[0]))
  console.table(render)
  const reload = await reloadCase(Number(values.reloads), originPorts)
  console.log(JSON.stringify(reload, null, 2))
  // A partial run never overwrites the recorded results.
  if (!values['skip-render']) {
    await mkdir(new URL('../results/', import.meta.url), { recursive: true })
    await writeFile(new URL('../results/dataplane.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), render, reload }, null, 2) + '\n')
  }
} finally {
  for (const server of origins) { server.closeAllConnections(); server.close() }
}
