// bench/failover: (1) primary killed (daemon SIGKILL + HAProxy stopped) → Cloudflare record
// on the secondary, p50/p99 over N trials on a 5-node fleet (target p99 < 5 s); (2) false
// failovers during a bounded run with 10 % packet loss on every mesh link (iptables
// statistic on the fleet's loopback ports; target 0); (3) beside them, the detection
// time of serf on 5 loopback agents (Debian package) as the baseline.
// Usage: npm run bench -- failover [--trials 20] [--loss-seconds 60] [--serf-trials 5]
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LocalFleet, waitFor } from '../../scripts/fleet/local-fleet.ts'
import { withPacketLoss } from '../../scripts/fleet/packet-loss.ts'
import { measureSerfDetection } from '../baselines/serf-detect.ts'
import { summarize } from '../lib/stats.ts'

const HOST = 'shop.example.com'
const ZONE = 'example.com'
const IPS = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4', '203.0.113.5']
const HOLD_DOWN_S = 2
const { values } = parseArgs({ options: { trials: { type: 'string', default: '20' }, 'loss-seconds': { type: 'string', default: '60' }, 'serf-trials': { type: 'string', default: '5' } } })

const baseDir = await mkdtemp(join(tmpdir(), 'lumos-bf-'))
const fleet = await LocalFleet.start({ baseDir, nodeCount: 5, publicIps: IPS, cloudflare: true, coordinatorEnv: { LUMOS_FAILOVER_HOLD_DOWN_S: String(HOLD_DOWN_S) } })
try {
  const cf = fleet.cloudflare
  if (cf === undefined) throw new Error('fleet without fake Cloudflare')
  const account = `/v1/accounts/${fleet.accountId}`
  const record = (): string => fleet.dnsRecords(ZONE, HOST).join()
  const events = async (): Promise<unknown[]> => (await fleet.api<{ events: unknown[] }>('GET', `${account}/failover/events?limit=500`)).events
  fleet.addDnsRecord(ZONE, HOST, IPS[0] as string)
  const origin = await fleet.startOrigin('origin')
  await fleet.api('POST', `${account}/domains`, { hostname: HOST, servers: fleet.nodes.map(n => n.serverId), origins: [{ address: '127.0.0.1', port: origin }], failover: { enabled: true, zone: ZONE, record: HOST } })
  const voters = async (): Promise<number> => (await fleet.api<{ servers: Array<{ id: string, liveness?: { voters: number } }> }>('GET', `${account}/servers`)).servers.find(s => s.id === fleet.node(1).serverId)?.liveness?.voters ?? 0
  await waitFor('every peer to report on the primary', async () => await voters() === 4 ? true : undefined, 60_000)

  // (2) first, while the fleet is fresh: false failovers under 10 % loss on all mesh links.
  const lossSeconds = Number(values['loss-seconds'])
  const before = { events: (await events()).length, patches: cf.calls.filter(c => c.method === 'PATCH').length }
  const meshPorts = [fleet.coordinatorP2pPort, ...fleet.nodes.map(n => n.p2pPort)]
  await withPacketLoss(meshPorts, 0.1, async () => { await new Promise(resolve => setTimeout(resolve, lossSeconds * 1000)) })
  const falseFailovers = { seconds: lossSeconds, lossProbability: 0.1, events: (await events()).length - before.events, dnsWrites: cf.calls.filter(c => c.method === 'PATCH').length - before.patches }
  console.log('false failovers under 10 % loss:', falseFailovers)

  // (1) kill → DNS switch, then restart and wait for the failback before the next trial.
  const samples: number[] = []
  const trials = Number(values.trials)
  for (let trial = 1; trial <= trials; trial++) {
    const killedAt = Date.now()
    await fleet.stopNode(1, { signal: 'SIGKILL', haproxy: true })
    await waitFor('record on the secondary', async () => record() === IPS[1] ? true : undefined, 60_000)
    samples.push(Date.now() - killedAt)
    await fleet.startNode(1)
    await waitFor('failback to the primary', async () => record() === IPS[0] ? true : undefined, 120_000)
    await waitFor('peers to see the primary again', async () => await voters() === 4 ? true : undefined, 60_000)
    process.stdout.write(`\rtrial ${trial}/${trials}: ${samples.at(-1)} ms`)
  }
  process.stdout.write('\n')
  const serf = await measureSerfDetection(5, Number(values['serf-trials']))
  const [ours, baseline] = [summarize(samples), summarize(serf)]
  const result = {
    measuredAt: new Date().toISOString(),
    killToDnsMs: ours,
    serfDetectionMs: baseline,
    ratioP99: Math.round((ours.p99 / baseline.p99) * 100) / 100,
    falseFailovers,
    samplesMs: samples
  }
  console.log(JSON.stringify(result, null, 2))
  await mkdir(new URL('../results/', import.meta.url), { recursive: true })
  await writeFile(new URL('../results/failover.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
} finally {
  await fleet.stop()
  await rm(baseDir, { recursive: true, force: true })
}
