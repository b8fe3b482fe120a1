// A real shield data plane on loopback for the apply-path tests: an origin HTTP server, a
// real HAProxy driven by a ConfigApplier in a short temp dir (HAProxy limits unix socket
// paths to 97 bytes), and small HTTP/HTTPS clients that can pick their source address.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ClientRequest } from 'node:http'
import { request as tlsRequest, type RequestOptions } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { PeerCertificate, TLSSocket } from 'node:tls'
import pino from 'pino'
import type { Test } from 'tap'
import type { ConfigVersion, Domain } from '../../../proto/codec.ts'
import { withDomainDefaults, type DomainInput } from '../../../proto/domain-settings.ts'
import { ConfigApplier, type ApplyResult, type ConfigApplierInit } from '../../../node/apply/config-applier.ts'
import { HaproxyControl } from '../../../node/haproxy/haproxy-control.ts'
import { freePort } from '../../../scripts/fleet/local-fleet.ts'

export const SERVER_ID = 'srv_test'
export const HOST = 'shop.example.com'
const TEMPLATES_DIR = new URL('../../../haproxy-templates', import.meta.url).pathname

export interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
  cert?: PeerCertificate
}

export interface Scene {
  dir: string
  haproxy: HaproxyControl
  applier: ConfigApplier
  httpPort: number
  httpsPort: number
  originPort: number
  applied: ApplyResult[]
  failures: Array<{ version: number, err: Error & { code?: string } }>
  /** A domain served by this node and proxied to the scene's origin. */
  domain: (input?: Partial<DomainInput>) => Domain
  version: (version: number, domains: Domain[], accountIpBlacklist?: string[]) => ConfigVersion
  /** Schedules a version and returns what happened to it. */
  apply: (config: ConfigVersion) => Promise<ApplyResult | undefined>
  get: (path: string, options?: { from?: string, host?: string }) => Promise<Answer>
  getHttps: (path: string, servername: string) => Promise<Answer>
}

export async function startScene (t: Test, overrides: Partial<ConfigApplierInit> = {}): Promise<Scene> {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-ap-'))
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(`origin ${req.url ?? '/'}\n`)
  })
  const originPort = await freePort()
  await new Promise<void>(resolve => origin.listen(originPort, '127.0.0.1', resolve))
  const haproxy = new HaproxyControl({ binary: '/usr/sbin/haproxy', configFile: join(dir, 'haproxy.cfg'), masterSocket: join(dir, 'master.sock'), pidFile: join(dir, 'haproxy.pid') })
  t.teardown(async () => {
    scene.applier.stop()
    await haproxy.stop()
    origin.closeAllConnections()
    await new Promise(resolve => origin.close(resolve))
    await rm(dir, { recursive: true, force: true })
  })
  const httpPort = await freePort()
  const httpsPort = await freePort()
  const applied: ApplyResult[] = []
  const failures: Scene['failures'] = []
  const applier = new ConfigApplier({
    haproxy,
    template: await readFile(join(TEMPLATES_DIR, 'haproxy.cfg.tpl'), 'utf8'),
    templatesDir: TEMPLATES_DIR,
    serverId: SERVER_ID,
    httpBind: `127.0.0.1:${httpPort}`,
    httpsBind: `127.0.0.1:${httpsPort}`,
    runDir: dir,
    logger: pino({ level: 'debug' }, pino.destination({ dest: join(dir, 'node.log'), sync: true })),
    onApplied: async (result) => { applied.push(result) },
    onFailed: (version, err) => { failures.push({ version, err }) },
    // haproxy.cfg written right after an origin move, so a test can read it at once.
    persistDelayMs: 0,
    ...overrides
  })
  const scene: Scene = {
    dir, haproxy, applier, httpPort, httpsPort, originPort, applied, failures,
    domain: (input = {}) => withDomainDefaults({ id: 'dom_shop', hostname: HOST, serverIds: [SERVER_ID], origins: [{ address: '127.0.0.1', port: originPort, weight: 100, tls: false }], ...input }),
    version: (version, domains, accountIpBlacklist = []) => ({ accountId: 'acc_test', version, previousHash: new Uint8Array(), issuedAtMs: 0, servers: [], domains, accountIpBlacklist, challengeKey: new Uint8Array(32) }),
    async apply (config) {
      const before = applied.length
      await applier.schedule(config)
      return applied.slice(before).find(result => result.version === config.version)
    },
    get: async (path, options = {}) => await send(request, { host: '127.0.0.1', port: httpPort, path, localAddress: options.from, headers: { host: options.host ?? HOST } }),
    getHttps: async (path, servername) => await send(tlsRequest, { host: '127.0.0.1', port: httpsPort, path, servername, rejectUnauthorized: false, headers: { host: servername } })
  }
  return scene
}

type Requester = (options: RequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest
async function send (requester: Requester, options: RequestOptions): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const req = requester({ ...options, agent: false, timeout: 5000 }, (res) => {
      const cert = 'getPeerCertificate' in res.socket ? (res.socket as TLSSocket).getPeerCertificate() : undefined
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(cert === undefined ? {} : { cert }) }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`request ${options.path ?? ''} timed out`)))
    req.on('error', reject)
    req.end()
  })
}
