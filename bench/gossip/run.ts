// bench/gossip: gossip delivery of a signed config version alone, through the real code
// path, without HAProxy. One publisher process (real coordinator store, signer,
// ConfigVersions and CoordinatorMesh) and N node processes (real NodeMesh, NodeHeartbeat,
// ShieldNode, LevelDB NodeStore; the HAProxy applier replaced by a recorder). Per change,
// one at a time: publish at the coordinator → validator accepted ('verified') and written
// to LevelDB ('stored') on all N nodes. Beside it, in the same run, etcd watch delivering a
// payload of the same size to N subscribers, timed from before the put, in three shapes
// (bench/baselines/etcd-watch.ts); the target compares with the fastest. The mesh's clock
// starts after the coordinator's own fsynced commit, etcd's before its put, which includes
// etcd's WAL fsync: the row's storeWriteMs is what counting the coordinator's write would add.
// Usage: npm run bench -- gossip [--nodes 3,10,20] [--payloads 10,1000,10000,10000x3]
//        [--changes 100] [--gap 150] [--no-etcd] [--profile DIR]
// A payload is <domains>[x<origins per domain>]; 10000x3 makes a ~500 KB envelope.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { encodePeerKey, newPeerKey } from '../../proto/mesh-peer.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { freePort } from '../../scripts/fleet/local-fleet.ts'
import { measureEtcdWatch, type EtcdSubscribers } from '../baselines/etcd-watch.ts'
import { NODE_V8_FLAGS } from '../../node/runtime-flags.ts'
import { summarize, type Summary } from '../lib/stats.ts'
import type { NodeEvent, Published, PublisherReady } from './protocol.ts'

const NODE_ENTRY = fileURLToPath(new URL('./node.ts', import.meta.url))
const PUBLISHER_ENTRY = fileURLToPath(new URL('./publisher.ts', import.meta.url))
const WARMUP_CHANGES = 3
/** How long the idle mesh is measured before the changes. */
const IDLE_MS = 5000
/** Start-up work (syncs, compiling, first GCs) that the idle reading would count: 3-4 % per node in the first 5 s, 1.7-1.9 % after. */
const SETTLE_MS = 5000
const DELIVERY_TIMEOUT_MS = 60_000
/** Joining and syncing the first version; 20 nodes × 10 000 domains on a busy 2-core box is slow. */
const SETUP_TIMEOUT_MS = 300_000

export interface Row {
  nodes: number
  domains: number
  originsPerDomain: number
  envelopeBytes: number
  /** publish → validator accepted on all N nodes. */
  verifiedAllMs: Summary
  /** publish → durably stored on all N nodes. */
  storedAllMs: Summary
  /** publish → fully decoded on all N nodes (where the apply path would start rendering). */
  decodedAllMs: Summary
  /** publish → stored, per node (all samples). */
  storedEachMs: Summary
  /** Coordinator side: change accepted → publish called, and its stages. */
  acceptToPublishMs: Summary
  signMs: Summary
  /** Store write (fsync) and logging, between signing and publish. */
  storeWriteMs: Summary
  /** pubsub.publish call until it resolved. */
  publishCallMs: Summary
  /**
   * CPU (user + system) per change during the measured changes: mean per node process and
   * the publisher. Robust to a busy machine where the latencies are not.
   */
  nodeCpuPerChangeMs: number
  publisherCpuPerChangeMs: number
  /** CPU of one node process (mean over the nodes) in % of a core while no change is in flight. */
  nodeIdleCpuPercent: number
  /** Deliveries (node × version, warm-up included) that came through sync rather than gossip. */
  viaSync: number
  etcdAllMs: Summary | undefined
  verifiedVsEtcdP99: number | undefined
  /** etcd with each subscriber in its own process, as each node is (see bench/baselines/etcd-watch.ts). */
  etcdPerProcessAllMs: Summary | undefined
  verifiedVsEtcdPerProcessP99: number | undefined
  /** etcd to N `etcdctl watch` processes (etcd's Go client). */
  etcdctlAllMs: Summary | undefined
  verifiedVsEtcdctlP99: number | undefined
  /** The target's ratio (<= 1.5): verified p99 against the fastest of the three etcd shapes. */
  verifiedVsFastestEtcdP99: number | undefined
  storedVsEtcdP99: number | undefined
}

/** One child process and the messages it sent, awaited by predicate. */
class Child {
  readonly process: ChildProcess
  private readonly waiters: Array<{ match: (m: any) => boolean, resolve: (m: any) => void }> = []
  readonly onMessage: Array<(m: any) => void> = []

  constructor (entry: string, execArgv: string[]) {
    this.process = fork(entry, [], { execArgv: [...process.execArgv, ...execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.process.on('message', (m) => {
      for (const listener of this.onMessage) listener(m)
      const index = this.waiters.findIndex(w => w.match(m))
      if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(m)
    })
  }

  async request<T> (message: unknown, match: (m: any) => boolean, timeoutMs = 120_000): Promise<T> {
    const answer = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no answer to ${JSON.stringify(message).slice(0, 80)} within ${timeoutMs} ms`)) }, timeoutMs)
      this.waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m as T) } })
    })
    if (message !== undefined) this.process.send(message as object)
    return await answer
  }

  async stop (): Promise<void> {
    if (this.process.exitCode !== null) return
    const exited = new Promise(resolve => this.process.once('exit', resolve))
    this.process.send({ type: 'stop' })
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function runCase (nodes: number, domains: number, origins: number, opts: { changes: number, gapMs: number, etcd: boolean, profileDir?: string }): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-bg-'))
  const profile = (name: string): string[] => opts.profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', join(opts.profileDir, `${nodes}n-${domains}x${origins}`), `--cpu-prof-name=${name}.cpuprofile`]
  const children: Child[] = []
  try {
    const keys = await Promise.all(Array.from({ length: nodes }, async () => await newPeerKey()))
    const specs = await Promise.all(keys.map(async (key, i) => {
      const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`
      const peerId = peerIdFromPrivateKey(key).toString()
      return { id: `srv_bench${String(i).padStart(8, '0')}`, peerId, listen, multiaddrs: [`${listen}/p2p/${peerId}`], key: encodePeerKey(key) }
    }))
    const publisher = new Child(PUBLISHER_ENTRY, profile('publisher'))
    children.push(publisher)
    const ready = await publisher.request<PublisherReady>({
      type: 'setup', dir: join(dir, 'coordinator'), listen: `/ip4/127.0.0.1/tcp/${await freePort()}`, domains, origins,
      servers: specs.map(s => ({ id: s.id, peerId: s.peerId, multiaddrs: s.multiaddrs }))
    }, m => m.type === 'ready')

    const verified = new Map<number, Map<number, number>>()
    const stored = new Map<number, Map<number, number>>()
    const decoded = new Map<number, Map<number, number>>()
    const note = (table: Map<number, Map<number, number>>, version: number, node: number, at: number): void => {
      const byNode = table.get(version) ?? new Map<number, number>()
      table.set(version, byNode)
      if (!byNode.has(node)) byNode.set(node, at)
    }
    let viaSync = 0
    const nodeChildren = specs.map((spec, i) => {
      // With the V8 flags a shield daemon runs with.
      const child = new Child(NODE_ENTRY, [...NODE_V8_FLAGS, ...profile(`node${i}`)])
      children.push(child)
      child.onMessage.push((m: NodeEvent) => {
        if (m.type !== 'delivered') return
        if (m.verifiedAt !== undefined) {
          note(verified, m.version, i, m.verifiedAt)
          if (m.via === 'sync') viaSync++
        }
        if (m.storedAt !== undefined) note(stored, m.version, i, m.storedAt)
        if (m.decodedAt !== undefined) note(decoded, m.version, i, m.decodedAt)
      })
      return child
    })
    await Promise.all(nodeChildren.map(async (child, i) => {
      const spec = specs[i] as typeof specs[number]
      await child.request({
        type: 'start', dir: join(dir, `node${i}`), peerKey: spec.key, listen: spec.listen,
        enrollment: { serverId: spec.id, accountId: ready.accountId, coordinatorPublicKey: ready.publicKey, coordinatorPeerId: ready.peerId, bootstrap: ready.multiaddrs, configTopic: ready.topic }
      }, m => m.type === 'ready')
    }))
    const allHave = (table: Map<number, Map<number, number>>, version: number): boolean => (table.get(version)?.size ?? 0) === nodes
    const waitUntil = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      while (!await done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
        await sleep(2)
      }
    }
    const collect = async (version: number, timeoutMs: number): Promise<void> => {
      await Promise.all(nodeChildren.map(async child => await child.request({ type: 'collect', version }, (m: NodeEvent) => m.type === 'delivered' && m.version === version, timeoutMs)))
    }
    await collect(ready.version, SETUP_TIMEOUT_MS)
    await waitUntil('every node subscribed at the coordinator', async () => (await publisher.request<{ count: number }>({ type: 'subscribers' }, m => m.type === 'subscribers')).count === nodes, SETUP_TIMEOUT_MS)
    // Let node-to-node connections and gossipsub meshes form (a few gossipsub heartbeats).
    await sleep(3000)

    const cpu = async (child: Child): Promise<number> => (await child.request<{ ms: number }>({ type: 'cpu' }, m => m.type === 'cpu')).ms
    const cpuAll = async (): Promise<number[]> => await Promise.all(children.map(cpu))
    // What the mesh costs with no change in flight (heartbeats, gossipsub upkeep): the CPU every change competes with.
    await sleep(SETTLE_MS)
    const idleStart = await cpuAll()
    await sleep(IDLE_MS)
    const idleCpu = (await cpuAll()).map((ms, i) => (ms - (idleStart[i] ?? 0)) / IDLE_MS * 100)
    const nodeIdleCpuPercent = Math.round(idleCpu.slice(1).reduce((a, b) => a + b, 0) / nodes * 10) / 10
    let cpuBefore: number[] = []
    const rows: Array<{ published: Published, verifiedAll: number, storedAll: number, decodedAll: number, storedEach: number[] }> = []
    for (let change = 1; change <= WARMUP_CHANGES + opts.changes; change++) {
      if (change === WARMUP_CHANGES + 1) cpuBefore = await cpuAll()
      const published = await publisher.request<Published>({ type: 'change' }, m => m.type === 'published')
      // The nodes hand their stage times over after the delivery window (see bench/gossip/node.ts);
      // one that is not done by then answers once it is, and the mesh gets another gap to settle.
      await sleep(opts.gapMs)
      const asked = performance.now()
      await collect(published.version, DELIVERY_TIMEOUT_MS)
      if (![verified, stored, decoded].every(table => allHave(table, published.version))) throw new Error(`version ${published.version}: a node answered without every stage`)
      if (performance.now() - asked > 5) await sleep(opts.gapMs)
      if (change > WARMUP_CHANGES) {
        const v = [...(verified.get(published.version)?.values() ?? [])]
        const s = [...(stored.get(published.version)?.values() ?? [])]
        const d = [...(decoded.get(published.version)?.values() ?? [])]
        rows.push({ published, verifiedAll: Math.max(...v) - published.publishAt, storedAll: Math.max(...s) - published.publishAt, decodedAll: Math.max(...d) - published.publishAt, storedEach: s.map(t => t - published.publishAt) })
      }
      process.stdout.write(`\r${nodes} nodes × ${domains}x${origins}: change ${change}/${WARMUP_CHANGES + opts.changes}`)
    }
    process.stdout.write('\n')
    const cpuUsed = (await cpuAll()).map((ms, i) => (ms - (cpuBefore[i] ?? 0)) / opts.changes)
    const nodeCpuPerChangeMs = Math.round(cpuUsed.slice(1).reduce((a, b) => a + b, 0) / nodes * 10) / 10
    const publisherCpuPerChangeMs = Math.round((cpuUsed[0] ?? 0) * 10) / 10
    for (const child of children) await child.stop()
    const envelopeBytes = rows[rows.length - 1]?.published.envelopeBytes ?? ready.envelopeBytes
    const etcdShape = async (shape: EtcdSubscribers): Promise<Summary | undefined> => opts.etcd ? summarize(await measureEtcdWatch(nodes, envelopeBytes, opts.changes, shape)) : undefined
    const etcd = await etcdShape('in-process')
    const etcdPerProcess = await etcdShape('node-processes')
    const etcdctl = await etcdShape('etcdctl')
    const fastestEtcd = [etcd, etcdPerProcess, etcdctl].reduce((best, s) => s !== undefined && (best === undefined || s.p99 < best.p99) ? s : best, undefined)
    const verifiedAllMs = summarize(rows.map(r => r.verifiedAll))
    const storedAllMs = summarize(rows.map(r => r.storedAll))
    const ratio = (a: Summary, base = etcd): number | undefined => base === undefined ? undefined : Math.round((a.p99 / base.p99) * 100) / 100
    return {
      nodes,
      domains,
      originsPerDomain: origins,
      envelopeBytes,
      verifiedAllMs,
      storedAllMs,
      decodedAllMs: summarize(rows.map(r => r.decodedAll)),
      storedEachMs: summarize(rows.flatMap(r => r.storedEach)),
      acceptToPublishMs: summarize(rows.map(r => r.published.publishAt - r.published.acceptedAt)),
      signMs: summarize(rows.map(r => r.published.signEndAt - r.published.signStartAt)),
      storeWriteMs: summarize(rows.map(r => r.published.publishAt - r.published.signEndAt)),
      publishCallMs: summarize(rows.map(r => r.published.publishDoneAt - r.published.publishAt)),
      nodeCpuPerChangeMs,
      publisherCpuPerChangeMs,
      nodeIdleCpuPercent,
      viaSync,
      etcdAllMs: etcd,
      etcdPerProcessAllMs: etcdPerProcess,
      verifiedVsEtcdP99: ratio(verifiedAllMs),
      verifiedVsEtcdPerProcessP99: ratio(verifiedAllMs, etcdPerProcess),
      etcdctlAllMs: etcdctl,
      verifiedVsEtcdctlP99: ratio(verifiedAllMs, etcdctl),
      verifiedVsFastestEtcdP99: ratio(verifiedAllMs, fastestEtcd),
      storedVsEtcdP99: ratio(storedAllMs)
    }
  } finally {
    await Promise.all(children.map(async c => { await c.stop().catch(() => { c.process.kill('SIGKILL') }) }))
    await rm(dir, { recursive: true, force: true })
  }
}

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3,10,20' },
    payloads: { type: 'string', default: '10,1000,10000,10000x3' },
    // 100: the p99 of 30 samples is their maximum, one slow change on a shared machine.
    changes: { type: 'string', default: '100' },
    gap: { type: 'string', default: '150' },
    'no-etcd': { type: 'boolean', default: false },
    profile: { type: 'string' },
    out: { type: 'string', default: fileURLToPath(new URL('../results/gossip.json', import.meta.url)) }
  }
})
const rows: Row[] = []
const out = resolve(values.out)
await mkdir(join(out, '..'), { recursive: true })
for (const payload of values.payloads.split(',')) {
  const [domains, origins] = payload.split('x').map(Number) as [number, number | undefined]
  for (const nodes of values.nodes.split(',').map(Number)) {
    rows.push(await runCase(nodes, domains, origins ?? 1, { changes: Number(values.changes), gapMs: Number(values.gap), etcd: !values['no-etcd'], profileDir: values.profile === undefined ? undefined : resolve(values.profile) }))
    // Written after every case, so a long matrix cut short still leaves its rows.
    await writeFile(out, JSON.stringify({ measuredAt: new Date().toISOString(), changes: Number(values.changes), clock: 'CLOCK_MONOTONIC (process.hrtime), shared by all processes', rows }, null, 2) + '\n')
  }
}
console.table(rows.map(r => ({
  nodes: r.nodes,
  payload: `${r.domains}x${r.originsPerDomain}`,
  KB: Math.round(r.envelopeBytes / 1024),
  'verified p50': r.verifiedAllMs.p50,
  'verified p99': r.verifiedAllMs.p99,
  'stored p50': r.storedAllMs.p50,
  'stored p99': r.storedAllMs.p99,
  'decoded p99': r.decodedAllMs.p99,
  'etcd p50': r.etcdAllMs?.p50,
  'etcd p99': r.etcdAllMs?.p99,
  'ver/etcd': r.verifiedVsEtcdP99,
  'etcd/proc p99': r.etcdPerProcessAllMs?.p99,
  'ver/etcd-proc': r.verifiedVsEtcdPerProcessP99,
  'etcdctl p99': r.etcdctlAllMs?.p99,
  'ver/etcdctl': r.verifiedVsEtcdctlP99,
  'ver/fastest': r.verifiedVsFastestEtcdP99,
  'sto/etcd': r.storedVsEtcdP99,
  'accept→pub p50': r.acceptToPublishMs.p50,
  'node cpu/chg': r.nodeCpuPerChangeMs,
  'node idle %': r.nodeIdleCpuPercent,
  'pub cpu/chg': r.publisherCpuPerChangeMs,
  sync: r.viaSync
})))
