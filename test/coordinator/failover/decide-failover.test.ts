// Table tests of decideFailover (failover and round-robin modes, every rule in its header),
// plus two seeded-random properties: deciding again after applying the actions yields
// nothing (idempotence), and a primary bouncing within the hold-down never gets traffic back.
import t from 'tap'
import { applyFailoverActions, decideFailover } from '../../../coordinator/failover/decide-failover.ts'
import { NO_FAILOVER_STATE } from '../../../coordinator/failover/types.ts'
import type { DomainFailoverState, FailoverAction, FailoverDomain, FailoverInput, ServerHealth, ServerHealthState } from '../../../coordinator/failover/types.ts'

const NOW = 1_000_000
const HOLD = 60_000
const IP: Record<string, string> = { A: '203.0.113.1', B: '203.0.113.2', C: '203.0.113.3' }
const FOREIGN = '198.51.100.9'
const ZONE = 'example.com'

function domain (over: Partial<FailoverDomain['failover']> = {}, serverIds = ['A', 'B', 'C'], id = 'shop'): FailoverDomain {
  return { id, hostname: `${id}.example.com`, serverIds, failover: { enabled: true, mode: 'failover', zone: ZONE, record: `${id}.example.com`, ...over } }
}
const rr = (serverIds?: string[]): FailoverDomain => domain({ mode: 'round-robin' }, serverIds)
const h = (state: ServerHealthState, since = NOW - 600_000, id = ''): ServerHealth => ({ ip: IP[id] ?? '', state, since })
/** Health of A, B, C; `null` leaves a server out (unknown). */
function health (a: ServerHealth | null, b: ServerHealth | null, c: ServerHealth | null): Record<string, ServerHealth> {
  const all: Record<string, ServerHealth> = {}
  for (const [id, value] of [['A', a], ['B', b], ['C', c]] as const) if (value !== null) all[id] = { ...value, ip: IP[id] as string }
  return all
}
const ok = h('healthy')
const down = h('down', NOW - 10_000)
const ips = (...ids: string[]): string[] => ids.map(id => IP[id] ?? id)
const set = (to: string, record = 'shop.example.com'): FailoverAction['dns'] => [{ op: 'set', zone: ZONE, record, ip: IP[to] as string }]
const active = (to: string, lastSwitchAt = NOW - 120_000, since = lastSwitchAt): DomainFailoverState => ({ active: { from: 'A', to, since }, lastSwitchAt, reportedNoHealthy: null })

interface Row {
  name: string
  domains?: FailoverDomain[]
  servers: Record<string, ServerHealth>
  dns?: string[] | null
  state?: DomainFailoverState
  expect: FailoverAction[]
}

const failoverRows: Row[] = [
  { name: 'all healthy and DNS at the primary: nothing to do', servers: health(ok, ok, ok), expect: [] },
  { name: 'primary down: point at the first healthy secondary', servers: health(down, ok, ok), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'B', reason: 'primary-down', dns: set('B'), state: { active: { from: 'A', to: 'B', since: NOW }, lastSwitchAt: NOW, reportedNoHealthy: null } }] },
  { name: 'primary\'s HAProxy failing (unhealthy): fail over too', servers: health(h('unhealthy'), ok, ok), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'B', reason: 'primary-unhealthy', dns: set('B'), state: active('B', NOW) }] },
  { name: 'primary and first secondary down: the second secondary', servers: health(down, down, ok), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'C', reason: 'primary-down', dns: set('C'), state: active('C', NOW) }] },
  { name: 'an unhealthy secondary is skipped', servers: health(down, h('unhealthy'), ok), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'C', reason: 'primary-down', dns: set('C'), state: active('C', NOW) }] },
  { name: 'a secondary of unknown health is skipped', servers: health(down, null, ok), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'C', reason: 'primary-down', dns: set('C'), state: active('C', NOW) }] },
  { name: 'no healthy secondary: one event, DNS untouched', servers: health(down, down, h('unhealthy')), expect: [{ type: 'no-healthy-secondary', domainId: 'shop', failed: 'A', dns: [], state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 10_000 } }] },
  { name: 'no healthy secondary, already reported for this failure: nothing', servers: health(down, down, down), state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 10_000 }, expect: [] },
  { name: 'no healthy secondary, reported for an earlier failure: report again', servers: health(down, down, down), state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 500_000 }, expect: [{ type: 'no-healthy-secondary', domainId: 'shop', failed: 'A', dns: [], state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 10_000 } }] },
  { name: 'a primary of unknown health never triggers a failover', servers: health(null, ok, ok), expect: [] },
  { name: 'a single-server domain whose server is down: no-healthy-secondary', domains: [domain({}, ['A'])], servers: health(down, ok, ok), expect: [{ type: 'no-healthy-secondary', domainId: 'shop', failed: 'A', dns: [], state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 10_000 } }] },
  { name: 'primary healthy but DNS at a secondary (crash before the state was saved): repair', servers: health(ok, ok, ok), dns: ips('B'), expect: [{ type: 'dns-repair', domainId: 'shop', to: 'A', dns: set('A'), state: NO_FAILOVER_STATE }] },
  { name: 'primary healthy but DNS holds two addresses: repair to one', servers: health(ok, ok, ok), dns: ips('A', 'B'), expect: [{ type: 'dns-repair', domainId: 'shop', to: 'A', dns: set('A'), state: NO_FAILOVER_STATE }] },
  { name: 'DNS not read yet: no repair', servers: health(ok, ok, ok), dns: null, expect: [] },
  { name: 'DNS not read yet: a failover still happens (the write is absolute)', servers: health(down, ok, ok), dns: null, expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'B', reason: 'primary-down', dns: set('B'), state: active('B', NOW) }] },
  { name: 'failover disabled: never touched', domains: [domain({ enabled: false })], servers: health(down, ok, ok), dns: ips('B', 'C'), expect: [] },
  { name: 'no Cloudflare zone: never touched', domains: [domain({ zone: '' })], servers: health(down, ok, ok), expect: [] },
  { name: 'no record name: never touched', domains: [domain({ record: '' })], servers: health(down, ok, ok), expect: [] },
  { name: 'no servers: nothing to do', domains: [domain({}, [])], servers: health(down, ok, ok), expect: [] },
  { name: 'mode unset on the wire means failover', domains: [domain({ mode: '' })], servers: health(down, ok, ok), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'A', to: 'B', reason: 'primary-down', dns: set('B'), state: active('B', NOW) }] },
  // failover active: A → B
  { name: 'failed over, primary still down: nothing to do', servers: health(down, ok, ok), dns: ips('B'), state: active('B'), expect: [] },
  { name: 'failed over, primary healthy for less than the hold-down: stay', servers: health(h('healthy', NOW - HOLD + 1), ok, ok), dns: ips('B'), state: active('B'), expect: [] },
  { name: 'failed over, primary healthy for the hold-down: fail back', servers: health(h('healthy', NOW - HOLD), ok, ok), dns: ips('B'), state: active('B'), expect: [{ type: 'failover-recovered', domainId: 'shop', from: 'B', to: 'A', reason: 'primary-stable', dns: set('A'), state: { active: null, lastSwitchAt: NOW, reportedNoHealthy: null } }] },
  { name: 'failed over less than a hold-down ago: no failback yet, even with a stable primary', servers: health(ok, ok, ok), dns: ips('B'), state: active('B', NOW - HOLD + 1), expect: [] },
  { name: 'failed over, no switch time recorded: failback on primary stability alone', servers: health(ok, ok, ok), dns: ips('B'), state: { active: { from: 'A', to: 'B', since: 0 }, lastSwitchAt: null, reportedNoHealthy: null }, expect: [{ type: 'failover-recovered', domainId: 'shop', from: 'B', to: 'A', reason: 'primary-stable', dns: set('A'), state: { active: null, lastSwitchAt: NOW, reportedNoHealthy: null } }] },
  { name: 'failed over, the secondary goes down: the next secondary', servers: health(down, down, ok), dns: ips('B'), state: active('B'), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'B', to: 'C', reason: 'target-down', dns: set('C'), state: active('C', NOW) }] },
  { name: 'failed over, the secondary\'s HAProxy fails: the next secondary', servers: health(down, h('unhealthy'), ok), dns: ips('B'), state: active('B'), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'B', to: 'C', reason: 'target-unhealthy', dns: set('C'), state: active('C', NOW) }] },
  { name: 'failed over, the secondary goes down, the primary is back (not yet stable): back to the primary', servers: health(h('healthy', NOW - 1000), down, down), dns: ips('B'), state: active('B'), expect: [{ type: 'failover-recovered', domainId: 'shop', from: 'B', to: 'A', reason: 'secondary-failed', dns: set('A'), state: { active: null, lastSwitchAt: NOW, reportedNoHealthy: null } }] },
  { name: 'failed over, everything down: one event, DNS untouched', servers: health(down, h('down', NOW - 3000), down), dns: ips('B'), state: active('B'), expect: [{ type: 'no-healthy-secondary', domainId: 'shop', failed: 'B', dns: [], state: { ...active('B'), reportedNoHealthy: NOW - 3000 } }] },
  { name: 'failed over to a server no longer assigned to the domain: move on', domains: [domain({}, ['A', 'C'])], servers: health(down, ok, ok), dns: ips('B'), state: active('B'), expect: [{ type: 'failover-triggered', domainId: 'shop', from: 'B', to: 'C', reason: 'target-removed', dns: set('C'), state: active('C', NOW) }] },
  { name: 'failed over, but DNS shows the primary: repair to the secondary', servers: health(down, ok, ok), dns: ips('A'), state: active('B'), expect: [{ type: 'dns-repair', domainId: 'shop', to: 'B', dns: set('B'), state: active('B') }] },
  { name: 'a failover onto what is now the primary (reordered domain) counts as none', domains: [domain({}, ['B', 'A', 'C'])], servers: health(down, ok, ok), dns: ips('B'), state: active('B'), expect: [] },
  {
    name: 'each domain is decided on its own, in order',
    domains: [domain({}, ['A', 'B'], 'one'), domain({ enabled: false }, ['A', 'B'], 'two'), domain({}, ['A', 'C'], 'three')],
    servers: health(down, ok, ok),
    dns: null,
    expect: [
      { type: 'failover-triggered', domainId: 'one', from: 'A', to: 'B', reason: 'primary-down', dns: set('B', 'one.example.com'), state: active('B', NOW) },
      { type: 'failover-triggered', domainId: 'three', from: 'A', to: 'C', reason: 'primary-down', dns: set('C', 'three.example.com'), state: active('C', NOW) }
    ]
  }
]

const op = (kind: 'add' | 'remove', id: string): FailoverAction['dns'][number] => ({ op: kind, zone: ZONE, record: 'shop.example.com', ip: IP[id] as string })
const switched = { ...NO_FAILOVER_STATE, lastSwitchAt: NOW }
const roundRobinRows: Row[] = [
  { name: 'round-robin, all healthy and present: nothing to do', domains: [rr()], servers: health(ok, ok, ok), dns: ips('A', 'B', 'C'), expect: [] },
  { name: 'round-robin, a server goes down: remove its address', domains: [rr()], servers: health(ok, down, ok), dns: ips('A', 'B', 'C'), expect: [{ type: 'round-robin-update', domainId: 'shop', removed: ['B'], restored: [], dns: [op('remove', 'B')], state: switched }] },
  { name: 'round-robin, a server\'s HAProxy fails: remove its address', domains: [rr()], servers: health(ok, h('unhealthy'), ok), dns: ips('A', 'B', 'C'), expect: [{ type: 'round-robin-update', domainId: 'shop', removed: ['B'], restored: [], dns: [op('remove', 'B')], state: switched }] },
  { name: 'round-robin, a server of unknown health stays', domains: [rr()], servers: health(ok, null, ok), dns: ips('A', 'B', 'C'), expect: [] },
  { name: 'round-robin, recovered for less than the hold-down: not restored yet', domains: [rr()], servers: health(ok, h('healthy', NOW - HOLD + 1), ok), dns: ips('A', 'C'), expect: [] },
  { name: 'round-robin, recovered for the hold-down: restored', domains: [rr()], servers: health(ok, h('healthy', NOW - HOLD), ok), dns: ips('A', 'C'), expect: [{ type: 'round-robin-update', domainId: 'shop', removed: [], restored: ['B'], dns: [op('add', 'B')], state: switched }] },
  { name: 'round-robin, one restored and one removed at once: add before remove', domains: [rr()], servers: health(ok, ok, down), dns: ips('A', 'C'), expect: [{ type: 'round-robin-update', domainId: 'shop', removed: ['C'], restored: ['B'], dns: [op('add', 'B'), op('remove', 'C')], state: switched }] },
  { name: 'round-robin, the last address is down: keep it and report once', domains: [rr()], servers: health(down, down, down), dns: ips('A'), expect: [{ type: 'no-healthy-secondary', domainId: 'shop', failed: 'A', dns: [], state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 10_000 } }] },
  { name: 'round-robin, all addresses down: keep them, report the latest failure', domains: [rr()], servers: health(h('down', NOW - 9000), h('down', NOW - 2000), null), dns: ips('A', 'B'), expect: [{ type: 'no-healthy-secondary', domainId: 'shop', failed: 'B', dns: [], state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 2000 } }] },
  { name: 'round-robin, all down and already reported: nothing', domains: [rr()], servers: health(down, down, down), dns: ips('A'), state: { ...NO_FAILOVER_STATE, reportedNoHealthy: NOW - 10_000 }, expect: [] },
  { name: 'round-robin, records not read yet: nothing', domains: [rr()], servers: health(down, ok, ok), dns: null, expect: [] },
  { name: 'round-robin, an address of no assigned server is left alone and keeps the record non-empty', domains: [rr()], servers: health(down, down, down), dns: [IP.A as string, FOREIGN], expect: [{ type: 'round-robin-update', domainId: 'shop', removed: ['A'], restored: [], dns: [op('remove', 'A')], state: switched }] },
  { name: 'round-robin, an empty record gets the stable servers back', domains: [rr()], servers: health(ok, ok, down), dns: [], expect: [{ type: 'round-robin-update', domainId: 'shop', removed: [], restored: ['A', 'B'], dns: [op('add', 'A'), op('add', 'B')], state: switched }] },
  { name: 'round-robin, failover disabled: never touched', domains: [domain({ enabled: false, mode: 'round-robin' })], servers: health(ok, down, ok), dns: ips('A', 'B', 'C'), expect: [] }
]

function inputOf (row: Row): FailoverInput {
  const domains = row.domains ?? [domain()]
  const dnsFor = row.dns === undefined ? ips('A') : row.dns
  return {
    domains,
    servers: row.servers,
    dns: dnsFor === null ? {} : Object.fromEntries(domains.map(d => [d.id, dnsFor])),
    state: row.state === undefined ? {} : Object.fromEntries(domains.map(d => [d.id, row.state as DomainFailoverState])),
    now: NOW,
    holdDownMs: HOLD
  }
}

for (const row of [...failoverRows, ...roundRobinRows]) {
  t.test(row.name, async t => {
    const input = inputOf(row)
    const actions = decideFailover(input)
    t.same(actions, row.expect)
    t.same(decideFailover(applyFailoverActions(input, actions)), [], 'deciding again after applying gives nothing')
  })
}

t.test('the hold-down defaults to 60 s', async t => {
  const input = { ...inputOf({ name: '', servers: health(h('healthy', NOW - 60_000), ok, ok), dns: ips('B'), state: active('B'), expect: [] }), holdDownMs: undefined }
  t.equal(decideFailover(input)[0]?.type, 'failover-recovered')
  t.same(decideFailover({ ...input, servers: health(h('healthy', NOW - 59_999), ok, ok) }), [])
})

/** mulberry32: a tiny seeded PRNG, so the "random" cases are the same on every run. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('idempotence: on 2000 random worlds, deciding again after applying the actions gives nothing', async t => {
  const rand = prng(42)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const ids = ['A', 'B', 'C']
  let acted = 0
  for (let i = 0; i < 2000; i++) {
    const servers: Record<string, ServerHealth> = {}
    for (const id of ids) {
      const state = pick(['healthy', 'healthy', 'unhealthy', 'down', 'missing'] as const)
      if (state !== 'missing') servers[id] = { ip: IP[id] as string, state, since: NOW - Math.floor(rand() * 2 * HOLD) }
    }
    const serverIds = ids.filter(() => rand() < 0.8)
    if (rand() < 0.5) serverIds.reverse()
    const d = domain({ mode: pick(['failover', 'round-robin', ''] as const) }, serverIds)
    const records = rand() < 0.15 ? null : ids.filter(() => rand() < 0.5).map(id => IP[id] as string).concat(rand() < 0.1 ? [FOREIGN] : [])
    const to = pick([null, 'A', 'B', 'C'])
    const state: DomainFailoverState = {
      active: to === null ? null : { from: pick(ids), to, since: NOW - Math.floor(rand() * 3 * HOLD) },
      lastSwitchAt: rand() < 0.2 ? null : NOW - Math.floor(rand() * 3 * HOLD),
      reportedNoHealthy: rand() < 0.5 ? null : (servers[pick(ids)]?.since ?? null)
    }
    const input: FailoverInput = { domains: [d], servers, dns: records === null ? {} : { shop: records }, state: { shop: state }, now: NOW, holdDownMs: HOLD }
    const actions = decideFailover(input)
    if (actions.length > 0) acted++
    const again = decideFailover(applyFailoverActions(input, actions))
    if (again.length > 0) t.fail(`world ${i}: ${JSON.stringify({ input, actions, again })}`)
  }
  t.ok(acted > 500, `most random worlds call for an action (${acted})`)
})

/** Runs decisions every second over a timeline of health changes, applying what it decides. */
function run (d: FailoverDomain, changes: Array<[number, string, ServerHealthState]>, until: number, initial: Record<string, ServerHealth>, dns: string[]): Array<{ at: number, action: FailoverAction }> {
  let world: FailoverInput = { domains: [d], servers: initial, dns: { [d.id]: dns }, state: {}, now: 0, holdDownMs: HOLD }
  const log: Array<{ at: number, action: FailoverAction }> = []
  const pending = [...changes]
  for (let now = 0; now <= until; now += 1000) {
    const servers = { ...world.servers }
    while (pending.length > 0 && (pending[0] as [number, string, ServerHealthState])[0] <= now) {
      const [at, id, state] = pending.shift() as [number, string, ServerHealthState]
      servers[id] = { ip: IP[id] as string, state, since: at }
    }
    world = { ...world, servers, now }
    const actions = decideFailover(world)
    for (const action of actions) log.push({ at: now, action })
    world = applyFailoverActions(world, actions)
  }
  return log
}

/** A goes down at 10 s, then bounces: every healthy stretch is shorter than the hold-down. */
function bounces (seed: number, count: number): { changes: Array<[number, string, ServerHealthState]>, end: number } {
  const rand = prng(seed)
  const changes: Array<[number, string, ServerHealthState]> = [[10_000, 'A', 'down']]
  let at = 10_000
  for (let i = 0; i < count; i++) {
    at += 1 + Math.floor(rand() * 30_000)
    changes.push([at, 'A', 'healthy'])
    at += 1 + Math.floor(rand() * (HOLD - 2))
    changes.push([at, 'A', rand() < 0.5 ? 'down' : 'unhealthy'])
  }
  return { changes, end: at }
}

/** run() decides once a second. */
const firstDecisionAfter = (ms: number): number => Math.ceil(ms / 1000) * 1000

const start = (): Record<string, ServerHealth> => ({ A: { ip: IP.A as string, state: 'healthy', since: 0 }, B: { ip: IP.B as string, state: 'healthy', since: 0 }, C: { ip: IP.C as string, state: 'healthy', since: 0 } })

for (const seed of [1, 7, 2024]) {
  t.test(`no flapping (seed ${seed}): a primary bouncing within the hold-down never gets traffic back; once stable it does, once`, async t => {
    const { changes, end } = bounces(seed, 40)
    const log = run(domain(), [...changes, [end + 5000, 'A', 'healthy']], end + 5000 + HOLD + 10_000, start(), ips('A'))
    t.same(log.map(e => `${e.action.type} ${'to' in e.action ? e.action.to : ''}`), ['failover-triggered B', 'failover-recovered A'])
    t.equal(log[0]?.at, 10_000)
    t.equal(log[1]?.at, firstDecisionAfter(end + 5000 + HOLD), 'failback at the first decision a hold-down after the primary became stable')
  })

  t.test(`no flapping in round-robin (seed ${seed}): a bouncing server is removed once and restored only when stable`, async t => {
    const { changes, end } = bounces(seed, 40)
    const log = run(rr(), [...changes, [end + 5000, 'A', 'healthy']], end + 5000 + HOLD + 10_000, start(), ips('A', 'B', 'C'))
    t.same(log.map(e => e.action.type === 'round-robin-update' ? `-${e.action.removed.join()} +${e.action.restored.join()}` : e.action.type), ['-A +', '- +A'])
    t.equal(log[1]?.at, firstDecisionAfter(end + 5000 + HOLD))
  })
}
