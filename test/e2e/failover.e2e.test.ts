// DNS failover end to end with real processes: coordinator (with the loopback fake of the
// Cloudflare API), three shield nodes with their own HAProxy, one origin, a webhook
// receiver. A domain on [n1 primary, n2 secondary] in failover mode; public IPs are only
// A record values in the fake. Stopping n1 (daemon + HAProxy) moves the record to n2 (time
// measured), records a FailoverEvent and notifies; restarting n1 moves it back once after
// the hold-down. A coordinator↔n1 partition drill (the coordinator alone loses n1) moves
// nothing: the peers still see n1, so the quorum keeps it up.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { httpGet, LocalFleet, waitFor } from '../../scripts/fleet/local-fleet.ts'
import { webhookReceiver } from '../fixtures/webhook-receiver.ts'

const HOST = 'shop.example.com'
const ZONE = 'example.com'
const IPS = ['203.0.113.1', '203.0.113.2', '203.0.113.3']
const HOLD_DOWN_S = 3

interface ServerView { id: string, status: string, liveness?: { coordinatorView: string, reason: string, voters: number, connections: number } }
interface EventView { type: string, from: string | null, to: string | null, reason: string | null, status: string, drill: boolean, timings: { detectToDnsMs: number | null } }

t.test('DNS failover with a real fleet', async t => {
  // Short base dir: HAProxy socket paths are limited to 97 bytes.
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-fo-'))
  const fleet = await LocalFleet.start({ baseDir, nodeCount: 3, publicIps: IPS, cloudflare: true, coordinatorEnv: { LUMOS_FAILOVER_HOLD_DOWN_S: String(HOLD_DOWN_S) } })
  t.teardown(async () => { await fleet.stop(); await rm(baseDir, { recursive: true, force: true }) })
  const [n1, n2] = [fleet.node(1), fleet.node(2)]
  const account = `/v1/accounts/${fleet.accountId}`
  const cf = fleet.cloudflare
  if (cf === undefined) throw new Error('the fleet has no fake Cloudflare')
  const patches = (): number => cf.calls.filter(c => c.method === 'PATCH').length
  const record = (): string[] => fleet.dnsRecords(ZONE, HOST)
  const servers = async (): Promise<ServerView[]> => (await fleet.api<{ servers: ServerView[] }>('GET', `${account}/servers`)).servers
  const serverView = async (id: string): Promise<ServerView | undefined> => (await servers()).find(s => s.id === id)
  const events = async (): Promise<EventView[]> => (await fleet.api<{ events: EventView[] }>('GET', `${account}/failover/events`)).events

  const receiver = await webhookReceiver(t)
  await fleet.api('POST', `${account}/channels`, { url: receiver.url(), events: ['server_down', 'server_error', 'failover_triggered', 'failover_recovered'] })
  fleet.addDnsRecord(ZONE, HOST, IPS[0] as string)
  const origin = await fleet.startOrigin('origin')
  await fleet.api('POST', `${account}/domains`, {
    hostname: HOST, servers: [n1.serverId, n2.serverId], origins: [{ address: '127.0.0.1', port: origin }], failover: { enabled: true, zone: ZONE, record: HOST }
  })
  await waitFor(`${n2.name} to serve ${HOST}`, async () => (await httpGet(n2.httpPort, HOST, '/')).status === 200 ? true : undefined, 30_000)
  // Failover needs the peers' views: wait until both peers report on n1.
  await waitFor('both peers to report their view of n1', async () => (await serverView(n1.serverId))?.liveness?.voters === 2 ? true : undefined, 30_000)

  await t.test('a coordinator↔primary partition moves no DNS', async t => {
    const writes = patches()
    const eventCount = (await events()).length
    await fleet.api('POST', `${account}/servers/${n1.serverId}/drill/partition`, { seconds: 15 })
    const cut = await waitFor('the coordinator to lose n1', async () => {
      const view = await serverView(n1.serverId)
      return view?.liveness?.connections === 0 && view.liveness.coordinatorView === 'down' ? view : undefined
    }, 15_000)
    t.pass('partition happened: no connection to n1 and the coordinator\'s own view of n1 is down')
    t.equal(cut.liveness?.reason, 'no-majority', 'the peers still see n1 alive')
    await new Promise(resolve => setTimeout(resolve, 4000))
    const after = await serverView(n1.serverId)
    t.equal(after?.liveness?.coordinatorView, 'down', 'still partitioned while checking')
    t.equal(after?.status, 'online', 'n1 is not declared down')
    t.same(record(), [IPS[0]], 'the record still points at n1')
    t.equal(patches(), writes, 'no DNS write')
    t.equal((await events()).length, eventCount, 'no failover event')
    await waitFor('the partition to heal', async () => (await serverView(n1.serverId))?.liveness?.coordinatorView === 'alive' ? true : undefined, 30_000)
  })

  await t.test('stopping the primary moves the record to the secondary', async t => {
    const writes = patches()
    const killedAt = Date.now()
    await fleet.stopNode(1, { haproxy: true })
    await waitFor('the record to point at n2', async () => record().join() === IPS[1] ? true : undefined, 30_000)
    const switchMs = Date.now() - killedAt
    t.comment(`n1 stopped → Cloudflare record on n2: ${switchMs} ms`)
    t.ok(switchMs < 15_000, `switched within 15 s (${switchMs} ms)`)
    t.equal(patches(), writes + 1, 'one DNS write')
    // The PATCH lands before the engine saves its state and completes the event.
    const event = await waitFor('the failover event to complete', async () => (await events()).find(e => e.type === 'failover-triggered' && e.status !== 'pending'), 10_000)
    t.match(event, { type: 'failover-triggered', from: n1.serverId, to: n2.serverId, reason: 'primary-down', status: 'done', drill: false })
    t.comment(`detection → DNS converged (event timings): ${event.timings.detectToDnsMs ?? '?'} ms`)
    t.equal((await serverView(n1.serverId))?.status, 'offline')
    const hook = await waitFor('the failover_triggered webhook', async () => receiver.requests.find(r => r.headers['x-lumos-event'] === 'failover_triggered'), 30_000)
    t.match(JSON.parse(hook.body), { type: 'failover_triggered', data: { hostname: HOST, fromServerId: n1.serverId, toServerId: n2.serverId } })
    await waitFor('the server_down webhook', async () => receiver.requests.find(r => r.headers['x-lumos-event'] === 'server_down'), 30_000)
    t.pass('server_down delivered')
    const through = await httpGet(n2.httpPort, HOST, '/after-failover')
    t.equal(through.body, 'origin /after-failover\n', 'n2 serves the domain from the origin')
  })

  await t.test('a restarted primary gets the record back once, after the hold-down', async t => {
    const writes = patches()
    const restartedAt = Date.now()
    await fleet.startNode(1)
    await waitFor('the record to point back at n1', async () => record().join() === IPS[0] ? true : undefined, 60_000)
    const backMs = Date.now() - restartedAt
    t.comment(`n1 restarted → record back on n1: ${backMs} ms (hold-down ${HOLD_DOWN_S} s)`)
    t.ok(backMs >= HOLD_DOWN_S * 1000, 'not before the hold-down')
    await new Promise(resolve => setTimeout(resolve, (HOLD_DOWN_S + 3) * 1000))
    t.equal(patches(), writes + 1, 'exactly one failback write: no flapping')
    t.same(record(), [IPS[0]])
    const recovered = (await events()).filter(e => e.type === 'failover-recovered')
    t.equal(recovered.length, 1)
    t.match(recovered[0], { from: n2.serverId, to: n1.serverId, reason: 'primary-stable' })
    await waitFor('the failover_recovered webhook', async () => receiver.requests.find(r => r.headers['x-lumos-event'] === 'failover_recovered'), 30_000)
    t.pass('failover_recovered delivered')
  })
})
