// bench/coordinator: the coordinator's change path for large accounts, in process against a
// real LevelDB in a temp dir, through the HTTP API (fastify inject, publish recorded).
// Per account size (10 / 1 000 / 10 000 domains): the bulk import that fills the account,
// the first change after a restart (state loaded from LevelDB), then p50/p99 of --changes
// single-domain PUTs, each timed from the request to its signed version being durable
// (the API answers after the fsynced batch). CPU time of the process is recorded beside
// wall time: on a shared machine it is the steadier figure.
// Writes bench/results/coordinator.json.
// Usage: npm run bench -- coordinator [--domains 10,1000,10000] [--changes 30]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { pino } from 'pino'
import { buildApi } from '../../coordinator/api/app.ts'
import { sha256Hex } from '../../coordinator/api/auth.ts'
import { ConfigVersions } from '../../coordinator/config-versions.ts'
import { CoordinatorStore } from '../../coordinator/store/store.ts'
import { exportPublicKey, generateSigningKey, type SigningKey } from '../../proto/envelope.ts'
import { summarize } from '../lib/stats.ts'

const ADMIN_KEY = 'bench-admin-key-0123456789abcdef'
const { values } = parseArgs({ options: { domains: { type: 'string', default: '10,1000,10000' }, changes: { type: 'string', default: '30' } } })
const sizes = values.domains.split(',').map(Number)
const changes = Number(values.changes)
const round = (x: number): number => Math.round(x * 10) / 10

interface Coordinator {
  call: (method: 'POST' | 'PUT', url: string, key: string, payload: object) => Promise<{ status: number, body: any }>
  published: () => number
  close: () => Promise<void>
}

async function startCoordinator (dir: string, signingKey: SigningKey): Promise<Coordinator> {
  const store = new CoordinatorStore(join(dir, 'db'))
  await store.open()
  const logger = pino({ level: 'silent' })
  let published = 0
  const versions = new ConfigVersions({ store, signingKey, now: Date.now, logger, publish: async () => { published++ } })
  const mesh = { peerId: '12D3KooWbench', multiaddrs: () => [], publicKey: exportPublicKey(signingKey.publicKey), admitPeer: async () => {} }
  const app = await buildApi({ store, versions, mesh, adminKeyHash: sha256Hex(ADMIN_KEY), now: Date.now, logger })
  return {
    async call (method, url, key, payload) {
      const res = await app.inject({ method, url, payload, headers: { authorization: `Bearer ${key}` } })
      return { status: res.statusCode, body: res.json() }
    },
    published: () => published,
    async close () { await app.close(); await store.close() }
  }
}

function domainBody (i: number, serverId: string, port = 8080): object {
  return {
    hostname: `site${i}.customer${i % 97}.example.com`,
    aliases: [`www.site${i}.customer${i % 97}.example.com`],
    servers: [serverId],
    origins: [{ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port }],
    waf: { rateLimitRequests: 100, owasp: true },
    failover: { enabled: true, zone: `customer${i % 97}.example.com` }
  }
}

/** Wall and CPU milliseconds of `fn`. */
async function timed<T> (fn: () => Promise<T>): Promise<{ value: T, wallMs: number, cpuMs: number }> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  const value = await fn()
  const wallMs = performance.now() - started
  const used = process.cpuUsage(cpu)
  return { value, wallMs, cpuMs: (used.user + used.system) / 1000 }
}

async function benchCase (domains: number): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-bench-coordinator-'))
  const signingKey = generateSigningKey()
  try {
    let coordinator = await startCoordinator(dir, signingKey)
    const account = (await coordinator.call('POST', '/v1/accounts', ADMIN_KEY, { name: 'Bench', plan: 'pro' })).body
    const accountId = account.account.id as string
    const key = account.apiKey as string
    const server = (await coordinator.call('POST', `/v1/accounts/${accountId}/servers`, key, { name: 'bench shield' })).body.server.id as string
    const body = { domains: Array.from({ length: domains }, (_, i) => domainBody(i, server)) }
    const imported = await timed(async () => await coordinator.call('POST', `/v1/accounts/${accountId}/domains/import`, key, body))
    if (imported.value.status !== 201) throw new Error(`import answered ${imported.value.status}: ${JSON.stringify(imported.value.body)}`)
    const ids = (imported.value.body.domains as Array<{ id: string }>).map(d => d.id)

    // A restart: the first change after it pays for loading the account's state.
    await coordinator.close()
    coordinator = await startCoordinator(dir, signingKey)
    const put = async (n: number): Promise<{ wallMs: number, cpuMs: number }> => {
      const i = n % ids.length
      const res = await timed(async () => await coordinator.call('PUT', `/v1/accounts/${accountId}/domains/${ids[i] as string}`, key, domainBody(i, server, 9000 + n)))
      if (res.value.status !== 200) throw new Error(`PUT answered ${res.value.status}: ${JSON.stringify(res.value.body)}`)
      return res
    }
    const first = await put(0)
    const wall: number[] = []
    const cpu: number[] = []
    for (let n = 1; n <= changes; n++) {
      const { wallMs, cpuMs } = await put(n)
      wall.push(wallMs)
      cpu.push(cpuMs)
    }
    if (coordinator.published() !== changes + 1) throw new Error(`published ${coordinator.published()} versions, expected ${changes + 1}`)
    await coordinator.close()
    return {
      domains,
      importMs: round(imported.wallMs),
      importCpuMs: round(imported.cpuMs),
      firstChangeAfterRestartMs: round(first.wallMs),
      change: summarize(wall),
      changeCpu: summarize(cpu)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const rows = []
for (const domains of sizes) {
  const row = await benchCase(domains)
  console.log(JSON.stringify(row))
  rows.push(row)
}
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
await writeFile(new URL('../results/coordinator.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), changes, rows }, null, 2) + '\n')
