// LocalFleet: a real fleet on loopback for the demo and the end-to-end tests — a
// coordinator process, N shield node processes (each with its own HAProxy, data dir and
// ports) and small origin HTTP servers. Every process logs to <baseDir>/logs.
// With `cloudflare: true` it also runs the loopback fake of the Cloudflare v4 API
// (fake-cloudflare.ts) in this process and gives the coordinator its URL and token, so
// DNS failover really moves records the caller can inspect (fleet.cloudflare).
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HaproxyControl } from '../../node/haproxy/haproxy-control.ts'
import { NODE_V8_FLAGS } from '../../node/runtime-flags.ts'
import { FakeCloudflare } from './fake-cloudflare.ts'
import { claimPort } from './port-claims.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * A loopback TCP port free right now, for a process started next to listen on. Picked below
 * the kernel's ephemeral range: a port the kernel hands out (listen on 0) is also what it
 * gives the next outgoing connection, and with 20 nodes dialling each other one was taken
 * before its node listened. A port is handed out once per machine while its process lives
 * (port-claims.ts): test files run side by side.
 */
export async function freePort (): Promise<number> {
  const low = EPHEMERAL_LOW - FREE_PORT_SPAN
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * FREE_PORT_SPAN)
    if (!await canListen(port) || !claimPort(port)) continue
    return port
  }
  throw new Error(`no free loopback port in ${low}-${EPHEMERAL_LOW - 1} after 200 tries`)
}

/** Start of the kernel's ephemeral port range (net.ipv4.ip_local_port_range). */
const EPHEMERAL_LOW = (() => {
  let low = Number.NaN
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
  } catch {}
  // Unreadable or unparsable: Linux's default start.
  return Number.isInteger(low) ? Math.max(low, 12_000) : 32_768
})()
const FREE_PORT_SPAN = 10_000

async function canListen (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createNetServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

export async function waitFor<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== undefined) return value
    } catch (err) {
      lastError = err
    }
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`)
}

/** GET http://127.0.0.1:port/path with a Host header; resolves status and body. */
// node:http, not fetch: fetch does not let callers set the Host header.
export async function httpGet (port: number, host: string, path = '/'): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, timeout: 3000, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${host}${path} on port ${port} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

export interface ShieldProcess {
  index: number
  name: string
  serverId: string
  token: string
  httpPort: number
  /** Loopback port of the node's HTTPS bind (LUMOS_HTTPS_BIND). */
  httpsPort: number
  p2pPort: number
  dataDir: string
  process: ChildProcess | undefined
  haproxy: HaproxyControl
}

export interface FleetOptions {
  baseDir: string
  nodeCount: number
  adminKey?: string
  logLevel?: string
  /**
   * How long to wait for a started process to be up (coordinator API, node HAProxy); 60 s by
   * default: on a loaded machine three nodes running `haproxy -c` at once can take over 15 s.
   */
  startTimeoutMs?: number
  /** Public IP of node i+1 (its A record value in DNS failover); none when omitted. */
  publicIps?: string[]
  /** Start the fake Cloudflare API and hand its URL and token to the coordinator. */
  cloudflare?: boolean
  /** How many node processes start at once; all of them by default. */
  startConcurrency?: number
  /** How long an API call may take before it is aborted; 10 s by default. */
  apiTimeoutMs?: number
  /** Extra coordinator environment, e.g. LUMOS_FAILOVER_HOLD_DOWN_S. */
  coordinatorEnv?: Record<string, string>
  /** 'source' (default) runs the .ts files; 'bundle' runs dist/ from `npm run build`, as shipped. */
  launch?: 'source' | 'bundle'
}

export interface ApiCallOptions {
  /** Overrides the fleet's apiTimeoutMs for this call, e.g. for a bulk import. */
  timeoutMs?: number
}

/** The API token the fleet's fake Cloudflare accepts. */
export const FAKE_CLOUDFLARE_TOKEN = 'local-fleet-cloudflare-token'

export class LocalFleet {
  readonly baseDir: string
  readonly adminKey: string
  readonly nodes: ShieldProcess[] = []
  coordinatorUrl = ''
  accountId = ''
  /** The fake Cloudflare API (option `cloudflare`): records, zones and every call made. */
  cloudflare: FakeCloudflare | undefined
  private coordinator: ChildProcess | undefined
  private coordinatorPorts = { http: 0, p2p: 0 }

  /** The coordinator's libp2p port (benchmarks drop packets on it). */
  get coordinatorP2pPort (): number { return this.coordinatorPorts.p2p }
  private readonly origins: Server[] = []
  private readonly logLevel: string
  private readonly startTimeoutMs: number
  private readonly options: FleetOptions

  constructor (options: FleetOptions) {
    this.baseDir = options.baseDir
    this.adminKey = options.adminKey ?? 'local-fleet-admin-key-0123456789'
    this.logLevel = options.logLevel ?? 'info'
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000
    this.options = options
  }

  /**
   * Starts the coordinator, creates an account and `nodeCount` servers, starts their nodes.
   * When a step fails, whatever was started is stopped before the error is rethrown.
   */
  static async start (options: FleetOptions): Promise<LocalFleet> {
    const fleet = new LocalFleet(options)
    try {
      await fleet.startAll(options.nodeCount)
    } catch (err) {
      await fleet.stop()
      throw err
    }
    return fleet
  }

  private async startAll (nodeCount: number): Promise<void> {
    await mkdir(join(this.baseDir, 'logs'), { recursive: true })
    this.coordinatorPorts = { http: await freePort(), p2p: await freePort() }
    this.coordinatorUrl = `http://127.0.0.1:${this.coordinatorPorts.http}`
    if (this.options.cloudflare === true) {
      this.cloudflare = new FakeCloudflare({ token: FAKE_CLOUDFLARE_TOKEN })
      await this.cloudflare.start()
    }
    await this.startCoordinator()
    const { account } = await this.api<{ account: { id: string } }>('POST', '/v1/accounts', { name: 'local fleet', plan: this.options.nodeCount > 5 ? 'enterprise' : 'pro' })
    this.accountId = account.id
    for (let index = 1; index <= nodeCount; index++) {
      const name = `shield-${index}`
      const publicIp = this.options.publicIps?.[index - 1]
      const { server, token } = await this.api<{ server: { id: string }, token: string }>('POST', `/v1/accounts/${account.id}/servers`, { name, ...(publicIp === undefined ? {} : { publicIp }) })
      const dataDir = join(this.baseDir, name)
      const runDir = join(dataDir, 'haproxy')
      this.nodes.push({
        index, name, serverId: server.id, token, dataDir,
        httpPort: await freePort(),
        httpsPort: await freePort(),
        p2pPort: await freePort(),
        process: undefined,
        haproxy: new HaproxyControl({ binary: 'haproxy', configFile: join(runDir, 'haproxy.cfg'), masterSocket: join(runDir, 'master.sock'), pidFile: join(runDir, 'haproxy.pid') })
      })
    }
    // Started `startConcurrency` at a time: a herd of node processes loading and enrolling at
    // once on a small machine can starve the coordinator past the nodes' enrollment timeout.
    const queue = [...this.nodes]
    const starter = async (): Promise<void> => {
      for (let node = queue.shift(); node !== undefined; node = queue.shift()) await this.startNode(node.index)
    }
    await Promise.all(Array.from({ length: Math.max(1, this.options.startConcurrency ?? nodeCount) }, starter))
  }

  node (index: number): ShieldProcess {
    const node = this.nodes[index - 1]
    if (node === undefined) throw new Error(`no node ${index}`)
    return node
  }

  /** Calls the coordinator API with the admin key; throws on non-2xx with the API's code. */
  async api<T> (method: string, path: string, body?: unknown, options: ApiCallOptions = {}): Promise<T> {
    const response = await this.apiRaw(method, path, body, options)
    if (response.status >= 300) throw new Error(`${method} ${path} → ${response.status} ${JSON.stringify(response.body)}`)
    return response.body as T
  }

  async apiRaw (method: string, path: string, body?: unknown, options: ApiCallOptions = {}): Promise<{ status: number, body: Record<string, unknown> }> {
    const response = await fetch(`${this.coordinatorUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? this.options.apiTimeoutMs ?? 10_000)
    })
    return { status: response.status, body: await response.json() as Record<string, unknown> }
  }

  /** Fake Cloudflare: creates the zone if needed and an A record `name` → `ip` in it. */
  addDnsRecord (zone: string, name: string, ip: string): void {
    const cloudflare = this.cloudflare
    if (cloudflare === undefined) throw new Error('start the fleet with cloudflare: true to use DNS records')
    try {
      cloudflare.addRecord(zone, { name, content: ip, ttl: 60 })
    } catch {
      cloudflare.addZone(zone)
      cloudflare.addRecord(zone, { name, content: ip, ttl: 60 })
    }
  }

  /** The addresses of the fake Cloudflare's A records named `name` in `zone`. */
  dnsRecords (zone: string, name: string): string[] {
    return (this.cloudflare?.records(zone) ?? []).filter(r => r.type === 'A' && r.name === name.toLowerCase()).map(r => r.content).sort()
  }

  /** The log file of a fleet process: 'coordinator' or a node name such as 'shield-3'. */
  logPath (name: string): string {
    return join(this.baseDir, 'logs', `${name}.log`)
  }

  /** The last `lines` lines of a process's log, or '(no log)': for failure messages. */
  logTail (name: string, lines: number): string {
    try {
      return readFileSync(this.logPath(name), 'utf8').trim().split('\n').slice(-lines).join('\n')
    } catch {
      return '(no log)'
    }
  }

  private spawnLogged (name: string, script: string, env: Record<string, string>, execArgv: readonly string[] = []): ChildProcess {
    const log = createWriteStream(this.logPath(name), { flags: 'a' })
    const child = spawn(process.execPath, [...execArgv, join(ROOT, script)], { env: { ...process.env, LUMOS_LOG_LEVEL: this.logLevel, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    return child
  }

  async startCoordinator (): Promise<void> {
    this.coordinator = this.spawnLogged('coordinator', this.options.launch === 'bundle' ? 'dist/lumos-coordinator.js' : 'coordinator/bin.ts', {
      LUMOS_ADMIN_KEY: this.adminKey,
      LUMOS_DATA_DIR: join(this.baseDir, 'coordinator'),
      LUMOS_HTTP_PORT: String(this.coordinatorPorts.http),
      LUMOS_P2P_PORT: String(this.coordinatorPorts.p2p),
      ...(this.cloudflare === undefined ? {} : { LUMOS_CLOUDFLARE_TOKEN: FAKE_CLOUDFLARE_TOKEN, LUMOS_CLOUDFLARE_BASE_URL: this.cloudflare.url }),
      ...this.options.coordinatorEnv
    })
    await waitFor('coordinator API', async () => (await fetch(`${this.coordinatorUrl}/v1/health`)).ok ? true : undefined, this.startTimeoutMs)
  }

  async stopCoordinator (): Promise<void> {
    await stopProcess(this.coordinator)
    this.coordinator = undefined
  }

  async startNode (index: number): Promise<void> {
    const node = this.node(index)
    const child = this.spawnLogged(node.name, this.options.launch === 'bundle' ? 'dist/lumos-node.js' : 'node/bin.ts', {
      LUMOS_TOKEN: node.token,
      LUMOS_COORDINATOR: this.coordinatorUrl,
      LUMOS_DATA_DIR: node.dataDir,
      LUMOS_HTTP_BIND: `127.0.0.1:${node.httpPort}`,
      LUMOS_HTTPS_BIND: `127.0.0.1:${node.httpsPort}`,
      LUMOS_P2P_HOST: '127.0.0.1',
      LUMOS_P2P_PORT: String(node.p2pPort)
    }, NODE_V8_FLAGS)
    node.process = child
    // A node that exits while starting (e.g. enrollment refused or timed out) fails the start at once.
    const started = await waitFor(`${node.name} HAProxy`, async () => child.exitCode !== null ? 'exited' : await node.haproxy.status(), this.startTimeoutMs)
    if (started === 'exited') {
      // The log's last lines go into the error: tests remove the fleet's directory at teardown.
      throw new Error(`${node.name} exited with ${child.exitCode} while starting; the end of ${this.logPath(node.name)}:\n${this.logTail(node.name, 5)}`)
    }
  }

  /** Stops a node's daemon; with `haproxy: true` its HAProxy too (like systemctl stop). */
  async stopNode (index: number, options: { haproxy?: boolean, signal?: NodeJS.Signals } = {}): Promise<void> {
    const node = this.node(index)
    await stopProcess(node.process, options.signal)
    node.process = undefined
    if (options.haproxy === true) await node.haproxy.stop()
  }

  /** An origin HTTP server answering "<name> <path>" on a free loopback port. */
  async startOrigin (name: string): Promise<number> {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end(`${name} ${req.url ?? '/'}\n`)
    })
    const port = await freePort()
    await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
    this.origins.push(server)
    return port
  }

  async stop (): Promise<void> {
    await Promise.all(this.nodes.map(async node => { await this.stopNode(node.index, { haproxy: true }) }))
    await this.stopCoordinator()
    // close() waits for open keep-alive connections: cut them at once.
    await Promise.all(this.origins.map(async server => { const closed = new Promise(resolve => server.close(resolve)); server.closeAllConnections(); await closed }))
    await this.cloudflare?.stop()
  }
}

async function stopProcess (child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
