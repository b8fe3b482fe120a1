// A real HAProxy on loopback fronting a local origin, one frontend per domain carrying the
// node-level WAF lines of wafFrontendRules (Host → paranoia map lookup, pre-filter, Lua
// action) and a backend with the verdict line of wafRules — the same lines the renderer
// puts in a shield's config. The map of each frontend holds the domain's hostname plus the
// hosts the replay and wrk send. Used by test/node/render/waf.test.ts and bench/waf/run.ts.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { connect, createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Domain } from '../../proto/codec.ts'
import { wafFrontendRules, wafRules } from '../../node/render/waf.ts'

export const TEMPLATES_DIR = fileURLToPath(new URL('../../haproxy-templates', import.meta.url))

export async function freePort (): Promise<number> {
  const server = createNetServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** An origin answering 200 "ok" to everything (bodies are drained). */
export async function startOrigin (): Promise<{ port: number, server: Server }> {
  const server = createHttpServer((req, res) => {
    req.resume()
    req.on('end', () => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n') })
  })
  server.keepAliveTimeout = 30_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { port: address.port, server }
}

/** Hosts the corpus replay (bench/waf/replay.ts) and the wrk mixes send. */
export const HARNESS_HOSTS = ['waf.test', 'bench.example.com']

/** The config for `sites`; writes each site's WAF map under `<dir>/<domain id>/` (the run dir of its frontend). */
export function wafHaproxyConfig (dir: string, sites: Array<{ port: number, domain: Domain }>, originPort: number, opts: { nbthread?: number } = {}): string {
  const lines = [
    'global',
    `    lua-load-per-thread ${TEMPLATES_DIR}/lua/waf.lua`,
    `    nbthread ${opts.nbthread ?? 1}`,
    '    log stderr format short local0 warning',
    'defaults',
    '    mode http',
    '    log global',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    '    timeout http-request 10s'
  ]
  for (const { port, domain } of sites) {
    const runDir = join(dir, domain.id)
    const served = { ...domain, aliases: [...domain.aliases, ...HARNESS_HOSTS] }
    const ctx = { config: undefined as never, templatesDir: TEMPLATES_DIR, runDir, node: { waf: domain.waf.owasp, badBots: false, challenge: false } }
    const frontend = wafFrontendRules([served], ctx)
    for (const [path, content] of Object.entries(frontend.files)) {
      mkdirSync(join(runDir, path, '..'), { recursive: true })
      writeFileSync(join(runDir, path), content)
    }
    const backend = wafRules(served, ctx)
    lines.push(`frontend fe_${domain.id}`, `    bind 127.0.0.1:${port}`, ...frontend.frontendLines.map(l => `    ${l}`), `    default_backend site_${domain.id}`)
    lines.push(`backend site_${domain.id}`, ...backend.backendLines.map(l => `    ${l}`), `    server origin1 127.0.0.1:${originPort}`)
  }
  return lines.join('\n') + '\n'
}

async function waitForPort (port: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`port ${port} did not open`)
}

export interface RunningHaproxy { child: ChildProcess, stderr: () => string, stop: () => Promise<void> }

/** Starts `haproxy -db -f <dir>/haproxy.cfg` in the foreground and waits until it listens. */
export async function startHaproxy (dir: string, config: string, ports: number[]): Promise<RunningHaproxy> {
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, config)
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-8192) })
  const exited = once(child, 'exit')
  const signal = AbortSignal.timeout(10_000)
  await Promise.race([
    Promise.all(ports.map(port => waitForPort(port, signal))),
    exited.then(() => { throw new Error(`haproxy exited: ${stderr}`) })
  ])
  return {
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      await exited
    }
  }
}
