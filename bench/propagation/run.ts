// bench/propagation: time from an accepted API change to every assigned node having it
// applied (rendered, HAProxy reloaded and confirmed), and gossip delivery alone (signed →
// stored on every node), for 3/10/20 nodes × 10/1 000/10 000 domains; beside it, etcd
// watch delivering a payload of the same size to the same number of subscribers.
// Usage: npm run bench -- propagation [--nodes 3,10,20] [--domains 10,1000,10000] [--changes 30]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LocalFleet } from '../../scripts/fleet/local-fleet.ts'
import { measureEtcdWatch } from '../baselines/etcd-watch.ts'
import { LogWatch } from '../lib/log-watch.ts'
import { summarize, type Summary } from '../lib/stats.ts'

interface Row {
  nodes: number
  domains: number
  envelopeBytes: number
  applyAllMs: Summary
  gossipAllMs: Summary
  etcdAllMs: Summary
  gossipVsEtcdP99: number
}

const list = (s: string): number[] => s.split(',').map(Number)

async function runCase (nodes: number, domains: number, changes: number): Promise<Row> {
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-bp-'))
  const fleet = await LocalFleet.start({ baseDir, nodeCount: nodes, logLevel: 'info' })
  try {
    const [originA, originB] = [await fleet.startOrigin('a'), await fleet.startOrigin('b')]
    const servers = fleet.nodes.map(n => n.serverId)
    const account = `/v1/accounts/${fleet.accountId}`
    const body = (i: number, port: number): Record<string, unknown> => ({ hostname: `site${i}.bench.example.com`, servers, origins: [{ address: '127.0.0.1', port }] })
    const imported = await fleet.api<{ domains: Array<{ id: string }> }>('POST', `${account}/domains/import`, { domains: Array.from({ length: domains }, (_, i) => body(i, originA)) })
    const target = imported.domains[0]?.id as string
    const nodeLogs = fleet.nodes.map(n => join(baseDir, 'logs', `${n.name}.log`))
    const nodeWatch = new LogWatch(nodeLogs, ['version applied', 'config version received and stored'])
    const coordinatorWatch = new LogWatch([join(baseDir, 'logs', 'coordinator.log')], ['config version signed'])
    const head = async (): Promise<number> => (await fleet.api<{ config: { version: number } }>('GET', account)).config.version
    await nodeWatch.waitAll('version applied', await head(), 180_000)
    const applyAll: number[] = []
    const gossipAll: number[] = []
    for (let change = 1; change <= changes; change++) {
      const sent = Date.now()
      await fleet.api('PUT', `${account}/domains/${target}`, body(0, change % 2 === 0 ? originA : originB))
      const version = await head()
      const applied = await nodeWatch.waitAll('version applied', version, 60_000)
      const [signed] = await coordinatorWatch.waitAll('config version signed', version, 10_000)
      const stored = await nodeWatch.waitAll('config version received and stored', version, 10_000)
      applyAll.push(Math.max(...applied) - sent)
      gossipAll.push(Math.max(...stored) - (signed as number))
      process.stdout.write(`\r${nodes} nodes × ${domains} domains: change ${change}/${changes}`)
    }
    process.stdout.write('\n')
    await nodeWatch.close()
    await coordinatorWatch.close()
    const envelopeBytes = await lastEnvelopeBytes(join(baseDir, 'logs', 'coordinator.log'))
    const etcd = await measureEtcdWatch(nodes, envelopeBytes, changes)
    const [gossip, etcdSummary] = [summarize(gossipAll), summarize(etcd)]
    return { nodes, domains, envelopeBytes, applyAllMs: summarize(applyAll), gossipAllMs: gossip, etcdAllMs: etcdSummary, gossipVsEtcdP99: Math.round((gossip.p99 / etcdSummary.p99) * 100) / 100 }
  } finally {
    await fleet.stop()
    await rm(baseDir, { recursive: true, force: true })
  }
}

async function lastEnvelopeBytes (coordinatorLog: string): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const lines = (await readFile(coordinatorLog, 'utf8')).split('\n').filter(l => l.includes('"config version signed"'))
  return (JSON.parse(lines[lines.length - 1] as string) as { bytes: number }).bytes
}

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '3,10,20' }, domains: { type: 'string', default: '10,1000,10000' }, changes: { type: 'string', default: '30' } } })
// Results are written after every case, so a long matrix cut short still leaves its rows.
const rows: Row[] = []
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
for (const domains of list(values.domains)) {
  for (const nodes of list(values.nodes)) {
    rows.push(await runCase(nodes, domains, Number(values.changes)))
    await writeFile(new URL('../results/propagation.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), changes: Number(values.changes), rows }, null, 2) + '\n')
  }
}
console.table(rows.map(r => ({ nodes: r.nodes, domains: r.domains, envelopeKB: Math.round(r.envelopeBytes / 1024), 'apply p50': r.applyAllMs.p50, 'apply p99': r.applyAllMs.p99, 'gossip p99': r.gossipAllMs.p99, 'etcd p99': r.etcdAllMs.p99, 'gossip/etcd': r.gossipVsEtcdP99 })))
