// bench/memory: memory of a real shield node holding a large account (target: node RSS
// < 150 MB with 10 000 domains). Starts a 1-node LocalFleet, bulk-imports the domains
// through the coordinator API (`POST /v1/accounts/:id/domains/import`), waits until the
// node logged 'version applied' for that version, lets it settle, then reads VmRSS and
// VmHWM (peak) from /proc/<pid>/status of the node process, its V8 heap (through
// memory-probe.ts, preloaded with NODE_OPTIONS), and the RSS of HAProxy's master and
// workers. Also the import time (API answer) and the time until the node applied it.
// Domains: hostname + alias, one origin, WAF + rate limit; TLS off unless --tls (each TLS
// domain gets a self-signed certificate made with the openssl CLI, minutes at 10 000).
// The node runs as operators run it: the esbuild bundle (`npm run build`, rebuilt here
// first) with NODE_V8_FLAGS; `--launch source` runs the .ts files instead. memory.json
// records the launch form and the flags.
// Usage: npm run bench -- memory [--domains 10000] [--tls] [--settle-ms 5000] [--launch bundle|source]
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { NODE_V8_FLAGS } from '../../node/runtime-flags.ts'
import { LocalFleet, waitFor } from '../../scripts/fleet/local-fleet.ts'
import { LogWatch } from '../lib/log-watch.ts'

const APPLIED = 'version applied'
/** A bulk import signs one version holding every domain; generous on a loaded machine. */
const IMPORT_TIMEOUT_MS = 600_000
const START_TIMEOUT_MS = 300_000

const { values } = parseArgs({ options: { domains: { type: 'string', default: '10000' }, tls: { type: 'boolean', default: false }, 'settle-ms': { type: 'string', default: '5000' }, launch: { type: 'string', default: 'bundle' } } })
const domainCount = Number(values.domains)
const launch = values.launch === 'source' ? 'source' : 'bundle'
if (launch === 'bundle') execFileSync(process.execPath, [new URL('../../scripts/build.ts', import.meta.url).pathname], { stdio: 'inherit' })

interface ProcMemory { pid: number, rssMB: number, peakRssMB: number }

const mb = (kB: number): number => Math.round(kB / 102.4) / 10

async function procMemory (pid: number): Promise<ProcMemory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { pid, rssMB: mb(field('VmRSS')), peakRssMB: mb(field('VmHWM')) }
}

/** Child processes of `pid` (HAProxy's workers under its master). */
async function childrenOf (pid: number): Promise<number[]> {
  const children: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === pid) children.push(Number(entry))
  }
  return children
}

/** V8 figures of a process preloaded with memory-probe.ts: asks with SIGUSR2, reads its file. */
async function heapOf (pid: number, dir: string): Promise<{ heapUsedMB: number, heapTotalMB: number, externalMB: number, arrayBuffersMB: number }> {
  const file = join(dir, `memory-${pid}.json`)
  await rm(file, { force: true })
  process.kill(pid, 'SIGUSR2')
  const { usage } = await waitFor(`memory figures of ${pid}`, async () => JSON.parse(await readFile(file, 'utf8')) as { usage: NodeJS.MemoryUsage }, 10_000)
  const m = (bytes: number): number => Math.round(bytes / 104857.6) / 10
  return { heapUsedMB: m(usage.heapUsed), heapTotalMB: m(usage.heapTotal), externalMB: m(usage.external), arrayBuffersMB: m(usage.arrayBuffers) }
}

const baseDir = await mkdtemp(join(tmpdir(), 'lumos-bm-'))
const probeDir = join(baseDir, 'probe')
await mkdir(probeDir)
process.env.LUMOS_BENCH_MEMORY_DIR = probeDir
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${new URL('./memory-probe.ts', import.meta.url).href}`.trim()
const fleet = await LocalFleet.start({ baseDir, nodeCount: 1, launch, logLevel: 'info', startTimeoutMs: START_TIMEOUT_MS })
const watch = new LogWatch([fleet.logPath('shield-1')], [APPLIED])
let keepLogs = false
try {
  const node = fleet.node(1)
  const pid = node.process?.pid
  if (pid === undefined) throw new Error('the node process has no pid')
  const originPort = await fleet.startOrigin('origin')
  const account = `/v1/accounts/${fleet.accountId}`
  await new Promise(resolve => setTimeout(resolve, Number(values['settle-ms'])))
  const idle = { node: await procMemory(pid), heap: await heapOf(pid, probeDir) }

  const body = (i: number): Record<string, unknown> => ({
    hostname: `site${i}.customer${i % 97}.example.com`,
    aliases: [`www.site${i}.customer${i % 97}.example.com`],
    servers: [node.serverId],
    origins: [{ address: '127.0.0.1', port: originPort }],
    tls: { enabled: values.tls, redirectHttp: false },
    waf: { owasp: true, rateLimitRequests: 100, rateLimitWindowS: 10 }
  })
  const sent = Date.now()
  await fleet.api('POST', `${account}/domains/import`, { domains: Array.from({ length: domainCount }, (_, i) => body(i)) }, { timeoutMs: IMPORT_TIMEOUT_MS })
  const importApiMs = Date.now() - sent
  const { config } = await fleet.api<{ config: { version: number } }>('GET', account)
  const [appliedAt] = await watch.waitAll(APPLIED, config.version, IMPORT_TIMEOUT_MS)
  const appliedMs = (appliedAt as number) - sent
  console.log(`${domainCount} domains: import API ${importApiMs} ms, applied ${appliedMs} ms`)
  await new Promise(resolve => setTimeout(resolve, Number(values['settle-ms'])))

  const nodeMemory = await procMemory(pid)
  const heap = await heapOf(pid, probeDir)
  const status = await node.haproxy.status()
  const masterPid = status?.masterPid
  const haproxy = masterPid === undefined
    ? undefined
    : { master: await procMemory(masterPid), workers: await Promise.all((await childrenOf(masterPid)).map(procMemory)) }
  const result = {
    measuredAt: new Date().toISOString(),
    domains: domainCount,
    tls: values.tls,
    launch: { form: launch, script: launch === 'bundle' ? 'dist/lumos-node.js' : 'node/bin.ts', v8Flags: NODE_V8_FLAGS },
    targetNodeRssMB: 150,
    importApiMs,
    appliedMs,
    idle: { nodeRssMB: idle.node.rssMB, ...idle.heap },
    node: { rssMB: nodeMemory.rssMB, peakRssMB: nodeMemory.peakRssMB, ...heap },
    haproxy: haproxy === undefined
      ? undefined
      : { masterRssMB: haproxy.master.rssMB, workersRssMB: haproxy.workers.map(w => w.rssMB), peakWorkerRssMB: Math.max(0, ...haproxy.workers.map(w => w.peakRssMB)) }
  }
  console.log(JSON.stringify(result, null, 2))
  await mkdir(new URL('../results/', import.meta.url), { recursive: true })
  await writeFile(new URL('../results/memory.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
} catch (err) {
  keepLogs = true
  throw new Error(`${(err as Error).message} (logs kept in ${join(baseDir, 'logs')})`, { cause: err })
} finally {
  await watch.close()
  await fleet.stop()
  if (keepLogs) await rm(join(baseDir, 'coordinator'), { recursive: true, force: true })
  else await rm(baseDir, { recursive: true, force: true })
}
