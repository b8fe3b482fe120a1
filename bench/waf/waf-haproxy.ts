// A real HAProxy on loopback fronting a local origin, one frontend per domain carrying the
// node-level WAF lines of wafFrontendRules (Host → paranoia map lookup, pre-filter, Lua
// action) and, when the domain has bot protection on, the bad-bot and JS-challenge lines of
// botFrontendRules after them; a backend with the verdict lines of wafRules and botRules —
// the same lines, in the same order, the renderer puts in a shield's config. The maps of
// each frontend hold the domain's hostname plus the hosts the replay and wrk send. Used by
// test/node/render/waf.test.ts and bench/waf/run.ts.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ConfigVersion, Domain } from '../../proto/codec.ts'
import { botFrontendRules, botRules } from '../../node/render/bot-protection.ts'
import { wafFrontendRules, wafRules } from '../../node/render/waf.ts'

export const TEMPLATES_DIR = fileURLToPath(new URL('../../haproxy-templates', import.meta.url))

export { freePort } from '../../scripts/fleet/local-fleet.ts'

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

/** The account key a bench or test shield signs challenge cookies with (bot protection). */
export function challengeConfig (challengeKey: Uint8Array): ConfigVersion {
  return { accountId: 'acc_bench', version: 1, previousHash: new Uint8Array(32), issuedAtMs: 0, servers: [], domains: [], accountIpBlacklist: [], challengeKey }
}

/**
 * The config for `sites`; writes each site's maps (and challenge key) under
 * `<dir>/<domain id>/` (the run dir of its frontend). A domain with bot protection on
 * needs `opts.challengeKey`.
 */
export function wafHaproxyConfig (dir: string, sites: Array<{ port: number, domain: Domain }>, originPort: number, opts: { nbthread?: number, challengeKey?: Uint8Array } = {}): string {
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
  // Sections of the frontend modules (the bot table of verified cookies), once each, at the end.
  const sections = new Set<string>()
  for (const { port, domain } of sites) {
    const runDir = join(dir, domain.id)
    const served = { ...domain, aliases: [...domain.aliases, ...HARNESS_HOSTS] }
    const node = { waf: domain.waf.owasp, badBots: domain.bot.blockBadBots, challenge: domain.bot.jsChallenge }
    const config = node.challenge ? challengeConfig(opts.challengeKey ?? new Uint8Array()) : undefined as never
    const ctx = { config, templatesDir: TEMPLATES_DIR, runDir, node }
    // Evaluation order of the renderer: WAF, then bot protection (frontend and backend).
    const frontends = [wafFrontendRules([served], ctx), botFrontendRules([served], ctx)]
    for (const [path, content] of frontends.flatMap(f => Object.entries(f.files))) {
      mkdirSync(join(runDir, path, '..'), { recursive: true })
      writeFileSync(join(runDir, path), content)
    }
    const backendLines = [wafRules(served, ctx), botRules(served, ctx)].flatMap(rules => rules.backendLines)
    lines.push(`frontend fe_${domain.id}`, `    bind 127.0.0.1:${port}`, ...frontends.flatMap(f => f.frontendLines).map(l => `    ${l}`), `    default_backend site_${domain.id}`)
    lines.push(`backend site_${domain.id}`, ...backendLines.map(l => `    ${l}`), `    server origin1 127.0.0.1:${originPort}`)
    for (const section of frontends.flatMap(f => f.sections ?? [])) sections.add(section)
  }
  lines.push(...sections)
  return lines.join('\n') + '\n'
}

/** Resolves once 127.0.0.1:`port` accepts a connection; throws when `signal` aborts first. */
export async function waitForPort (port: number, signal: AbortSignal): Promise<void> {
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

/** Starts `haproxy -db -f <dir>/haproxy.cfg` in the foreground (with `env` added to its environment) and waits until it listens. */
export async function startHaproxy (dir: string, config: string, ports: number[], env: Record<string, string> = {}): Promise<RunningHaproxy> {
  const cfg = join(dir, 'haproxy.cfg')
  mkdirSync(dir, { recursive: true })
  writeFileSync(cfg, config)
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
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
