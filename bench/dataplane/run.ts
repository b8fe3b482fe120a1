// bench/dataplane: (1) render time and `haproxy -c` time for 10 / 1 000 / 10 000 domains
// on one node (target: render < 200 ms at 10 000); (2) failed requests during 100 config
// reloads under wrk load, through our apply path and, as the baseline, 100 bare HAProxy
// master-CLI reloads of the same config (target 0 for both).
// Usage: npm run bench -- dataplane [--reloads 100]
import { execFile } from 'node:child_process'
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
const { values } = parseArgs({ options: { reloads: { type: 'string', default: '100' } } })

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

async function startApplier (dir: string, httpPort: number): Promise<{ applier: ConfigApplier, haproxy: HaproxyControl }> {
  const haproxy = new HaproxyControl({ binary: 'haproxy', configFile: join(dir, 'haproxy.cfg'), masterSocket: join(dir, 'master.sock'), pidFile: join(dir, 'haproxy.pid') })
  const applier = new ConfigApplier({
    haproxy, template, templatesDir: TEMPLATES_DIR, serverId: SERVER, httpBind: `127.0.0.1:${httpPort}`, httpsBind: `127.0.0.1:${await freePort()}`,
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

interface WrkResult { requests: number, non2xx: number, socketErrors: number, raw: string }

function parseWrk (out: string): WrkResult {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0)
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0)
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  const socketErrors = errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0)
  return { requests, non2xx, socketErrors, raw: out.trim() }
}

/** Runs `reload` n times while wrk loads the shield; returns wrk's counts. */
async function underLoad (httpPort: number, seconds: number, reload: (i: number) => Promise<void>, n: number): Promise<WrkResult> {
  const wrk = run('wrk', ['-t2', '-c32', `-d${seconds}s`, '-H', 'Host: site0.customer0.example.com', `http://127.0.0.1:${httpPort}/`], { timeout: (seconds + 30) * 1000 })
  await new Promise(resolve => setTimeout(resolve, 500))
  for (let i = 1; i <= n; i++) await reload(i)
  return parseWrk((await wrk).stdout)
}

async function reloadCase (reloads: number, originPorts: [number, number]): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-br-'))
  const httpPort = await freePort()
  const { applier, haproxy } = await startApplier(dir, httpPort)
  try {
    await applier.schedule(nodeConfig(10, originPorts[0], 1, false))
    const before = await haproxy.status()
    // Ours: each version moves the origin, so each one is a real render → check → reload.
    const ours = await underLoad(httpPort, 40, async (i) => { await applier.schedule(nodeConfig(10, originPorts[i % 2] as number, i + 1, false)) }, reloads)
    const middle = await haproxy.status()
    // Baseline: the bare HAProxy seamless reload of the same config, no pipeline around it.
    const bare = await underLoad(httpPort, 30, async () => {
      const reloadsBefore = (await haproxy.status())?.reloads ?? 0
      await cliCommand(join(dir, 'master.sock'), 'reload')
      while (((await haproxy.status())?.reloads ?? 0) <= reloadsBefore) await new Promise(resolve => setTimeout(resolve, 5))
      await new Promise(resolve => setTimeout(resolve, 100))
    }, reloads)
    const after = await haproxy.status()
    return {
      reloads,
      ours: { haproxyReloads: (middle?.reloads ?? 0) - (before?.reloads ?? 0), requests: ours.requests, failed: ours.non2xx + ours.socketErrors, non2xx: ours.non2xx, socketErrors: ours.socketErrors },
      bareHaproxy: { haproxyReloads: (after?.reloads ?? 0) - (middle?.reloads ?? 0), requests: bare.requests, failed: bare.non2xx + bare.socketErrors, non2xx: bare.non2xx, socketErrors: bare.socketErrors }
    }
  } finally {
    await haproxy.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

const origins = [0, 1].map(() => createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n') }))
const originPorts: [number, number] = [await freePort(), await freePort()]
await Promise.all(origins.map(async (server, i) => { await new Promise<void>(resolve => server.listen(originPorts[i], '127.0.0.1', resolve)) }))
try {
  const render = []
  for (const domains of [10, 1000, 10_000]) render.push(await renderCase(domains, originPorts[0]))
  console.table(render)
  const reload = await reloadCase(Number(values.reloads), originPorts)
  console.log(JSON.stringify(reload, null, 2))
  await mkdir(new URL('../results/', import.meta.url), { recursive: true })
  await writeFile(new URL('../results/dataplane.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), render, reload }, null, 2) + '\n')
} finally {
  for (const server of origins) { server.closeAllConnections(); server.close() }
}
