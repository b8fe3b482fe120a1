// The FailoverEngine shell against the real Cloudflare adapter and the loopback fake of the
// Cloudflare API, over a real LevelDB store: it moves DNS when the primary is down, records
// the event and notifies, fails back once after the hold-down, retries a failing provider,
// repairs drift after a restart, and runs drills. Server health is the engine's input.
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { CloudflareDns } from '../../../coordinator/dns/cloudflare-dns.ts'
import { FailoverEngine } from '../../../coordinator/failover/failover-engine.ts'
import type { ServerHealth } from '../../../coordinator/failover/types.ts'
import type { DomainRecord } from '../../../coordinator/model.ts'
import type { CoordinatorEvent } from '../../../coordinator/notify/notifier.ts'
import { CoordinatorStore } from '../../../coordinator/store/store.ts'
import { FakeCloudflare } from '../../../scripts/fleet/fake-cloudflare.ts'

const HOLD_DOWN = 10_000
const T0 = 1_700_000_000_000
const domain: DomainRecord = {
  id: 'dom_1', accountId: 'acc_1', hostname: 'shop.example.com', aliases: [], serverIds: ['s1', 's2'], origins: [],
  tls: { enabled: false, redirectHttp: false }, waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 0, owasp: false, paranoia: 1 },
  bot: { blockBadBots: false, jsChallenge: false, challengeTtlS: 0 }, timeouts: { connectMs: 0, serverMs: 0, clientMs: 0 }, errorPages: [],
  failover: { enabled: true, mode: 'failover', zone: 'example.com', record: 'shop.example.com' }, createdAt: '', updatedAt: ''
}

async function world (t: Test, dir = t.testdir()) {
  const cf = new FakeCloudflare({ token: 'tok' })
  await cf.start()
  cf.addZone('example.com')
  cf.addRecord('example.com', { name: 'shop.example.com', content: '203.0.113.1' })
  t.teardown(async () => { await cf.stop() })
  return { cf, dir }
}

async function engineIn (t: Test, cf: FakeCloudflare, dir: string, clock: { now: number }, health: Record<string, ServerHealth>) {
  const store = new CoordinatorStore(join(dir, 'db'))
  await store.open()
  await store.write([{ type: 'domain', value: domain }])
  const notified: CoordinatorEvent[] = []
  const logger = pino({ level: 'silent' })
  const engine = new FailoverEngine({
    store,
    dns: new CloudflareDns({ apiToken: 'tok', baseURL: cf.url, logger, retry: { attempts: 1 } }),
    fleet: { accountIds: () => ['acc_1'], health: () => health, runtime: () => undefined },
    notify: async (_account, event) => { notified.push(event) },
    logger,
    now: () => clock.now,
    holdDownMs: HOLD_DOWN,
    intervalMs: 3_600_000
  })
  await engine.start()
  await engine.decideNow()
  const close = async () => { await engine.stop(); await store.close() }
  t.teardown(close)
  return { engine, notified, close }
}

const aRecords = (cf: FakeCloudflare) => cf.records('example.com').map(r => r.content).sort()
const patches = (cf: FakeCloudflare) => cf.calls.filter(c => c.method === 'PATCH').length

t.test('a down primary moves the record to the secondary once, with an event and failover_triggered', async t => {
  const { cf, dir } = await world(t)
  const clock = { now: T0 }
  const health: Record<string, ServerHealth> = { s1: { ip: '203.0.113.1', state: 'healthy', since: T0 - 100_000 }, s2: { ip: '203.0.113.2', state: 'healthy', since: T0 - 100_000 } }
  const { engine, notified } = await engineIn(t, cf, dir, clock, health)
  t.equal(patches(cf), 0, 'nothing to do while the primary is healthy')

  clock.now += 1000
  health.s1 = { ip: '203.0.113.1', state: 'down', since: clock.now - 300 }
  await engine.decideNow()
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.2'])
  t.equal(patches(cf), 1, 'one DNS write, however many rounds')
  const [event] = await engine.events.list('acc_1', 10)
  t.match(event, { type: 'failover-triggered', from: 's1', to: 's2', reason: 'primary-down', status: 'done', notified: true, drill: false })
  t.ok((event?.timings.detectToDnsMs ?? -1) >= 300, 'detection → DNS time is recorded')
  t.same(notified.map(n => n.type), ['failover_triggered'])

  clock.now += 1000
  health.s1 = { ip: '203.0.113.1', state: 'healthy', since: clock.now }
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.2'], 'no failback within the hold-down')
  clock.now += HOLD_DOWN
  await engine.decideNow()
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.1'], 'failback after the hold-down')
  t.equal(patches(cf), 2, 'exactly one failback')
  t.same(notified.map(n => n.type), ['failover_triggered', 'failover_recovered'])
})

t.test('a failing DNS provider is retried with backoff and the event says so', async t => {
  const { cf, dir } = await world(t)
  const clock = { now: T0 }
  const health: Record<string, ServerHealth> = { s1: { ip: '203.0.113.1', state: 'down', since: T0 - 1000 }, s2: { ip: '203.0.113.2', state: 'healthy', since: T0 - 100_000 } }
  cf.injectFault({ kind: 'status', status: 500 }, 1, { method: 'PATCH' })
  const { engine, notified } = await engineIn(t, cf, dir, clock, health)
  t.same(aRecords(cf), ['203.0.113.1'])
  t.match((await engine.events.list('acc_1', 10))[0], { status: 'failed', dns: { error: { code: 'DNS_PROVIDER_FAILED' } } })
  t.same(notified, [])
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.1'], 'not retried before the backoff')
  clock.now += 1000
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.2'])
  const events = await engine.events.list('acc_1', 10)
  t.equal(events.length, 1, 'the retry completes the same event')
  t.match(events[0], { status: 'done', dns: { attempts: 2 } })
  t.same(notified.map(n => n.type), ['failover_triggered'])
})

t.test('after a restart, state and DNS that disagree are repaired and nothing is announced twice', async t => {
  const { cf, dir } = await world(t)
  const clock = { now: T0 }
  const health: Record<string, ServerHealth> = { s1: { ip: '203.0.113.1', state: 'down', since: T0 - 1000 }, s2: { ip: '203.0.113.2', state: 'healthy', since: T0 - 100_000 } }
  const first = await engineIn(t, cf, dir, clock, health)
  t.same(aRecords(cf), ['203.0.113.2'])
  await first.close()
  // Someone added a second address to the record while the coordinator was away.
  cf.addRecord('example.com', { name: 'shop.example.com', content: '203.0.113.9' })
  const second = await engineIn(t, cf, dir, clock, health)
  t.same(aRecords(cf), ['203.0.113.2'], 'the drifted record is rewritten to the active secondary')
  t.same(second.notified, [], 'a repair is not a new failover')
  t.match((await second.engine.events.list('acc_1', 1))[0], { type: 'dns-repair', to: 's2', status: 'done' })
})

t.test('a drill moves DNS to the secondary while it lasts, and back after the hold-down', async t => {
  const { cf, dir } = await world(t)
  const clock = { now: T0 }
  const health: Record<string, ServerHealth> = { s1: { ip: '203.0.113.1', state: 'healthy', since: T0 - 100_000 }, s2: { ip: '203.0.113.2', state: 'healthy', since: T0 - 100_000 } }
  const { engine, notified } = await engineIn(t, cf, dir, clock, health)
  engine.drill(domain, 5000)
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.2'])
  t.match((await engine.events.list('acc_1', 1))[0], { type: 'failover-triggered', drill: true })
  clock.now += 5000 + HOLD_DOWN - 1
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.2'], 'the hold-down counts from the end of the drill')
  clock.now += 1
  await engine.decideNow()
  t.same(aRecords(cf), ['203.0.113.1'])
  t.same(notified.map(n => n.type), ['failover_triggered', 'failover_recovered'])
})
