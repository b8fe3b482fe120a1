// bench/propagation: time from a change sent to the API to every assigned node having it
// applied ('version applied' in every node log), for 3/10/20 nodes × 10/1 000/10 000
// domains, in two kinds:
//   runtime — one domain's origin port changes: HAProxy takes it through the runtime API
//             (`set server … addr`), no reload;
//   reload  — one domain's connect timeout changes: haproxy.cfg changes beyond servers, so
//             every node runs `haproxy -c` and reloads.
// Domains other than the changed one point at a closed origin port (see runCase). One
// warm-up change of each kind is not counted (WARMUP_CHANGES).
// Also: the bulk import of the domains (API time, and until applied everywhere), gossip
// delivery alone (signed → stored on every node) and, beside it, etcd watch delivering a
// payload of the same size to the same number of subscribers. Once the nodes are stopped,
// the reload floor: their own HAProxy configs checked and reloaded all at once, with nothing
// else running (bench/baselines/haproxy-reload-floor.ts), the least a reload change can
// take on this machine.
// Usage: npm run bench -- propagation [--nodes 3,10,20] [--domains 10,1000,10000] [--changes 30] [--reload-changes 10] [--out file.json] [--keep-logs]
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort, LocalFleet } from '../../scripts/fleet/local-fleet.ts'
import { measureEtcdWatch } from '../baselines/etcd-watch.ts'
import { measureReloadFloor } from '../baselines/haproxy-reload-floor.ts'
import { LogWatch } from '../lib/log-watch.ts'
import { summarize, type Summary } from '../lib/stats.ts'

const APPLIED = 'version applied'
const STORED = 'config version received and stored'
const RUNTIME = 'config applied through the runtime API'
const RELOADED = 'config applied and HAProxy reloaded'
/**
 * Changes of each kind made and waited for before the measured ones: the first change after
 * the bulk import also pays for its aftermath on every node (writing the imported config
 * and files, the first garbage collections of the large heap): 9 to 25 s at 20 × 1 000.
 */
const WARMUP_CHANGES = 1

interface KindResult {
  /** Change sent to the API → applied on every node. */
  applyAllMs: Summary
  /** Signed by the coordinator → stored on every node. */
  gossipAllMs: Summary
  /** Node applies of these versions that went through the runtime API / reloaded HAProxy. */
  nodeApplies: { runtime: number, reloaded: number }
}

interface Row {
  nodes: number
  domains: number
  envelopeBytes: number
  /** The bulk import: API answer, and until every node applied it. */
  importApiMs: number
  importAppliedMs: number
  runtime: KindResult
  reload: KindResult
  etcdAllMs: Summary
  gossipVsEtcdP99: number
  /** Every node's HAProxy checked and reloaded at once, nothing else running: per wave, and the machine's CPU per wave. */
  reloadFloor: { allMs: Summary, machineCpuMsPerWave: number, cores: number }
}

const list = (s: string): number[] => s.split(',').map(Number)
/** A bulk import signs one version holding every domain; 10 000 domains take tens of seconds on a loaded machine. */
const IMPORT_TIMEOUT_MS = 600_000
const APPLY_TIMEOUT_MS = 120_000
/** 20 node processes loading at once on 2 shared cores took over 100 s to enroll. */
const START_TIMEOUT_MS = 600_000

async function runCase (nodes: number, domains: number, changes: number, reloadChanges: number, keepLogsAlways = false): Promise<Row> {
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-bp-'))
  const fleet = await LocalFleet.start({ baseDir, nodeCount: nodes, logLevel: 'info', startTimeoutMs: START_TIMEOUT_MS, startConcurrency: 4 }).catch(async (err: Error) => {
    await rm(join(baseDir, 'coordinator'), { recursive: true, force: true })
    throw new Error(`${err.message} (logs kept in ${join(baseDir, 'logs')})`, { cause: err })
  })
  const nodeWatch = new LogWatch(fleet.nodes.map(n => fleet.logPath(n.name)), [APPLIED, STORED, RUNTIME, RELOADED])
  const coordinatorWatch = new LogWatch([fleet.logPath('coordinator')], ['config version signed'])
  let keepLogs = keepLogsAlways
  try {
    const [originA, originB] = [await fleet.startOrigin('a'), await fleet.startOrigin('b')]
    const servers = fleet.nodes.map(n => n.serverId)
    const account = `/v1/accounts/${fleet.accountId}`
    const body = (i: number, port: number, connectMs = 5000): Record<string, unknown> => ({ hostname: `site${i}.bench.example.com`, servers, origins: [{ address: '127.0.0.1', port }], timeouts: { connectMs } })
    const head = async (): Promise<number> => (await fleet.api<{ config: { version: number } }>('GET', account)).config.version

    const importSent = Date.now()
    // Every origin is health-checked every 2 s by every node: 20 nodes × 1 000 domains on two
    // live origins in this process would be 10 000 HTTP checks/s, the largest CPU load of the
    // run on a 2-core machine (a real fleet spreads it over its VPSes and the customers'
    // origins). The domains the run does not touch get a closed port: their checks are
    // refused by the kernel at once. The changed domain keeps live origins.
    const closedPort = await freePort()
    const imported = await fleet.api<{ domains: Array<{ id: string }> }>('POST', `${account}/domains/import`, { domains: Array.from({ length: domains }, (_, i) => body(i, i === 0 ? originA : closedPort)) }, { timeoutMs: IMPORT_TIMEOUT_MS })
    const importApiMs = Date.now() - importSent
    const importApplied = await nodeWatch.waitAll(APPLIED, await head(), IMPORT_TIMEOUT_MS)
    const importAppliedMs = Math.max(...importApplied) - importSent
    console.log(`${nodes} nodes × ${domains} domains: import API ${importApiMs} ms, applied on all nodes ${importAppliedMs} ms`)
    const target = imported.domains[0]?.id as string

    let port = originA
    let connectMs = 5000
    const measure = async (kind: string, count: number, change: () => Record<string, unknown>): Promise<KindResult> => {
      const applyAll: number[] = []
      const gossipAll: number[] = []
      const nodeApplies = { runtime: 0, reloaded: 0 }
      for (let i = count > 0 ? 1 - WARMUP_CHANGES : 1; i <= count; i++) {
        const sent = Date.now()
        await fleet.api('PUT', `${account}/domains/${target}`, change())
        const version = await head()
        const applied = await nodeWatch.waitAll(APPLIED, version, APPLY_TIMEOUT_MS)
        const [signed] = await coordinatorWatch.waitAll('config version signed', version, 10_000)
        const stored = await nodeWatch.waitAll(STORED, version, 10_000)
        if (i < 1) continue
        applyAll.push(Math.max(...applied) - sent)
        gossipAll.push(Math.max(...stored) - (signed as number))
        nodeApplies.runtime += nodeWatch.count(RUNTIME, version)
        nodeApplies.reloaded += nodeWatch.count(RELOADED, version)
        process.stdout.write(`\r${nodes} nodes × ${domains} domains: ${kind} change ${i}/${count}`)
      }
      process.stdout.write('\n')
      return { applyAllMs: summarize(applyAll), gossipAllMs: summarize(gossipAll), nodeApplies }
    }
    const runtime = await measure('runtime', changes, () => {
      port = port === originA ? originB : originA
      return body(0, port, connectMs)
    })
    const reload = await measure('reload', reloadChanges, () => {
      connectMs = connectMs === 5000 ? 6000 : 5000
      return body(0, port, connectMs)
    })
    const envelopeBytes = await lastEnvelopeBytes(fleet.logPath('coordinator'))
    await Promise.all(fleet.nodes.map(async node => { await fleet.stopNode(node.index, { haproxy: true }) }))
    const floor = await measureReloadFloor(fleet.nodes.map(node => node.haproxy), Math.max(1, reloadChanges))
    const reloadFloor = { allMs: summarize(floor.wavesMs), machineCpuMsPerWave: floor.machineCpuMsPerWave, cores: floor.cores }
    console.log(`${nodes} nodes × ${domains} domains: reload floor p50/p99 ${reloadFloor.allMs.p50}/${reloadFloor.allMs.p99} ms, ${floor.machineCpuMsPerWave} ms CPU per wave on ${floor.cores} cores`)
    const etcd = summarize(await measureEtcdWatch(nodes, envelopeBytes, changes))
    return { nodes, domains, envelopeBytes, importApiMs, importAppliedMs, runtime, reload, etcdAllMs: etcd, gossipVsEtcdP99: Math.round((runtime.gossipAllMs.p99 / etcd.p99) * 100) / 100, reloadFloor }
  } catch (err) {
    // The fleet's logs are the evidence of what went wrong: kept for a look.
    keepLogs = true
    throw new Error(`${(err as Error).message} (logs kept in ${join(baseDir, 'logs')})`, { cause: err })
  } finally {
    await nodeWatch.close()
    await coordinatorWatch.close()
    await fleet.stop()
    if (keepLogs) await rm(join(baseDir, 'coordinator'), { recursive: true, force: true })
    else await rm(baseDir, { recursive: true, force: true })
  }
}

async function lastEnvelopeBytes (coordinatorLog: string): Promise<number> {
  const lines = (await readFile(coordinatorLog, 'utf8')).split('\n').filter(l => l.includes('"config version signed"'))
  return (JSON.parse(lines[lines.length - 1] as string) as { bytes: number }).bytes
}

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3,10,20' }, domains: { type: 'string', default: '10,1000,10000' }, changes: { type: 'string', default: '30' }, 'reload-changes': { type: 'string', default: '10' }, out: { type: 'string', default: 'propagation.json' }, 'keep-logs': { type: 'boolean', default: false } } })
// Results are written after every case, so a long matrix cut short still leaves its rows.
const rows: Row[] = []
const failed: Array<{ nodes: number, domains: number, error: string }> = []
// A bare name goes to bench/results/; a path (absolute, or relative to it) is taken as given.
const resultFile = resolve(fileURLToPath(new URL('../results/', import.meta.url)), values.out)
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
for (const domains of list(values.domains)) {
  for (const nodes of list(values.nodes)) {
    try {
      rows.push(await runCase(nodes, domains, Number(values.changes), Number(values['reload-changes']), values['keep-logs']))
    } catch (err) {
      console.error(`\n${nodes} nodes × ${domains} domains failed: ${(err as Error).message}`)
      failed.push({ nodes, domains, error: (err as Error).message.slice(0, 2000) })
    }
    await writeFile(resultFile, JSON.stringify({ measuredAt: new Date().toISOString(), changes: Number(values.changes), reloadChanges: Number(values['reload-changes']), rows, failed }, null, 2) + '\n')
  }
}
console.table(rows.map(r => ({
  nodes: r.nodes,
  domains: r.domains,
  envelopeKB: Math.round(r.envelopeBytes / 1024),
  'import s': Math.round(r.importAppliedMs / 100) / 10,
  'runtime p50': r.runtime.applyAllMs.p50,
  'runtime p99': r.runtime.applyAllMs.p99,
  'reload p50': r.reload.applyAllMs.p50,
  'reload p99': r.reload.applyAllMs.p99,
  'floor p99': r.reloadFloor.allMs.p99,
  'gossip p99': r.runtime.gossipAllMs.p99,
  'etcd p99': r.etcdAllMs.p99
})))
if (failed.length > 0) process.exitCode = 1
