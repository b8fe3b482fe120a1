// A one-domain shield for bot-protection tests and the bot bench: the frontend lines of
// botFrontendRules and the backend verdicts of botRules in a small HAProxy config of our
// own, a real `haproxy -db` child in a short temp dir, and a loopback origin that counts
// the requests reaching it.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, request, type IncomingHttpHeaders } from 'node:http'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import type { BotSettings, ConfigVersion } from '../../../proto/codec.ts'
import { botFrontendRules, botRules } from '../../../node/render/bot-protection.ts'
import { freePort } from '../../../scripts/fleet/local-fleet.ts'

/** The proof of work of haproxy-templates/pages/challenge.html, in Node: the smallest nonce. */
export function solvePow (challenge: string, bits: number): number {
  for (let nonce = 0; ; nonce++) {
    if (createHash('sha256').update(challenge + nonce).digest().readUInt32BE(0) >>> (32 - bits) === 0) return nonce
  }
}

export const TEMPLATES_DIR = fileURLToPath(new URL('../../../haproxy-templates', import.meta.url))
export const HOST = 'shop.example.com'

export interface Origin { port: number, hits: number, close: () => Promise<void> }
export interface Shield { port: number, dir: string, pid: number, stop: () => Promise<void> }
export interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

export { freePort }

export async function startOrigin (): Promise<Origin> {
  const origin: Origin = { port: 0, hits: 0, close: async () => {} }
  const server = createHttpServer((req, res) => {
    origin.hits++
    res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>origin page</h1>')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  origin.port = (server.address() as { port: number }).port
  origin.close = async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  return origin
}

export function configWith (key: Uint8Array): ConfigVersion {
  return { accountId: 'acc_bot', version: 1, previousHash: new Uint8Array(32), issuedAtMs: 0, servers: [], domains: [], accountIpBlacklist: [], challengeKey: key }
}

async function waitForPort (port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${stderr()}`)
    const open = await new Promise<boolean>(resolve => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => { socket.end(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (open) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`haproxy did not listen on ${port}: ${stderr()}`)
}

/**
 * Renders the bot rules for one domain on `HOST`, starts HAProxy on a free loopback port.
 * `answerInHaproxy` ends the backend with a 200 from HAProxy itself (the bench uses it to
 * measure the rules' cost without an origin in the way); otherwise requests reach the origin.
 * `aliases` are served hosts of the domain besides `HOST`. The runtime API listens on
 * `<dir>/admin.sock` (see runtimeCommand).
 */
export async function startShield (bot: Partial<BotSettings>, key: Uint8Array, originPort: number, answerInHaproxy = false, aliases: string[] = []): Promise<Shield> {
  const dir = mkdtempSync(join(tmpdir(), 'lumos-bot-'))
  const domain = withDomainDefaults({ id: 'dom_shop', hostname: HOST, aliases, serverIds: ['srv_a'], origins: [{ address: '127.0.0.1', port: originPort, weight: 100, tls: false }], bot: { blockBadBots: false, jsChallenge: false, challengeTtlS: 3600, ...bot } })
  const ctx = { config: configWith(key), templatesDir: TEMPLATES_DIR, runDir: dir, node: { waf: false, badBots: domain.bot.blockBadBots, challenge: domain.bot.jsChallenge } }
  const frontend = botFrontendRules([domain], ctx)
  const rules = botRules(domain, ctx)
  for (const [path, content] of Object.entries(frontend.files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true, mode: 0o700 })
    writeFileSync(join(dir, path), content, { mode: 0o600 })
  }
  const port = await freePort()
  const cfg = [
    'global',
    `    stats socket ${join(dir, 'admin.sock')} mode 600 level admin`,
    '    log stderr format short local0 warning',
    'defaults',
    '    mode http',
    '    log global',
    '    timeout connect 2s',
    '    timeout client 10s',
    '    timeout server 10s',
    'frontend shield_http',
    `    bind 127.0.0.1:${port}`,
    ...frontend.frontendLines.map(line => `    ${line}`),
    '    default_backend site_dom_shop',
    'backend site_dom_shop',
    ...rules.backendLines.map(line => `    ${line}`),
    ...(answerInHaproxy ? ['    http-request return status 200 content-type text/html string "<h1>haproxy page</h1>"'] : []),
    `    server origin1 127.0.0.1:${originPort}`,
    ...(frontend.sections ?? []),
    ''
  ].join('\n')
  writeFileSync(join(dir, 'haproxy.cfg'), cfg)
  const child = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitForPort(port, child, () => stderr)
  } catch (err) {
    await stop()
    throw err
  }
  return { port, dir, pid: child.pid ?? 0, stop }
}

/** One command on the shield's runtime API; its whole answer. */
export async function runtimeCommand (shield: Shield, command: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    let answer = ''
    const socket = createConnection(join(shield.dir, 'admin.sock'), () => socket.end(`${command}\n`))
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('end', () => resolve(answer))
    socket.on('error', reject)
  })
}

export interface GetOptions { headers?: Record<string, string>, localAddress?: string, method?: string, path?: string }

export const BROWSER_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  host: HOST,
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
})

/** One request on a fresh connection (so `localAddress` picks the client IP HAProxy sees). */
export async function get (port: number, options: GetOptions = {}): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: options.path ?? '/', method: options.method ?? 'GET', headers: { ...BROWSER_HEADERS, ...options.headers }, localAddress: options.localAddress, agent: false, signal: AbortSignal.timeout(5000) }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
