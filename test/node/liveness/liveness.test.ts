// Table tests of the pure failure detector: every (status, probe stage) × event transition,
// the preset timelines (LAN ~5 s, WAN, the seed product's 5-minute check / 120 s unseen),
// and HAProxy health as alive-but-unhealthy. No clock: `now` is a number in each row.
import t from 'tap'
import { LAN, LIVENESS_PRESETS, SEED_COMPAT, WAN, type LivenessParams } from '../../../node/liveness/constants.ts'
import { detectionBudgetMs, initialPeerLiveness, observe, viewOf, worstCaseDownMs, type LivenessAction, type LivenessEvent, type PeerLiveness } from '../../../node/liveness/liveness.ts'

const base: PeerLiveness = { status: 'alive', haproxyHealthy: true, lastHeardAt: 0, since: 0, probe: 'none', probeSentAt: 0 }
const st = (over: Partial<PeerLiveness>): PeerLiveness => ({ ...base, ...over })
const hb = (healthy = true): LivenessEvent => ({ type: 'heartbeat', haproxyHealthy: healthy })
const ev = (type: Exclude<LivenessEvent['type'], 'heartbeat'>): LivenessEvent => ({ type })
const act = (type: Exclude<LivenessAction['type'], 'request-indirect-probes'>): LivenessAction => ({ type })
const indirect = (count: number): LivenessAction => ({ type: 'request-indirect-probes', count })

interface Row {
  name: string
  from: PeerLiveness
  event: LivenessEvent
  now: number
  params?: LivenessParams
  /** Fields of the next state that must have these values; omitted = unchanged state. */
  expect?: Partial<PeerLiveness>
  actions: LivenessAction[]
}

const SUSPECT = st({ status: 'suspect', since: 4000, lastHeardAt: 0 })
const DOWN = st({ status: 'down', since: 4600, probeSentAt: 4600 })
const noK: LivenessParams = { ...WAN, indirectProbes: 0 }

const rows: Row[] = [
  // alive, no probe outstanding
  { name: 'a healthy heartbeat keeps an alive peer alive without a report', from: base, event: hb(), now: 900, expect: { lastHeardAt: 900 }, actions: [] },
  { name: 'a heartbeat saying HAProxy fails makes the peer unhealthy, not down', from: base, event: hb(false), now: 900, expect: { status: 'alive', haproxyHealthy: false, since: 900, lastHeardAt: 900 }, actions: [act('report-unhealthy')] },
  { name: 'a healthy heartbeat from an unhealthy peer reports it alive', from: st({ haproxyHealthy: false }), event: hb(), now: 900, expect: { haproxyHealthy: true, since: 900, lastHeardAt: 900 }, actions: [act('report-alive')] },
  { name: 'a second failing heartbeat reports nothing new', from: st({ haproxyHealthy: false, since: 100 }), event: hb(false), now: 900, expect: { since: 100, lastHeardAt: 900 }, actions: [] },
  { name: 'a tick before 3 missed heartbeats does nothing', from: base, event: ev('tick'), now: 2999, actions: [] },
  { name: 'a tick after 3 missed heartbeats sends a direct probe', from: base, event: ev('tick'), now: 3000, expect: { probe: 'direct', probeSentAt: 3000 }, actions: [act('send-direct-probe')] },
  { name: 'an unhealthy peer that goes silent is probed like any other', from: st({ haproxyHealthy: false }), event: ev('tick'), now: 3000, expect: { probe: 'direct', probeSentAt: 3000 }, actions: [act('send-direct-probe')] },
  { name: 'a late probe failure with no probe outstanding is ignored', from: base, event: ev('probe-failed'), now: 1000, actions: [] },
  { name: 'a late indirect failure with no probe outstanding is ignored', from: base, event: ev('indirect-probe-failed'), now: 1000, actions: [] },
  { name: 'a successful probe with none outstanding still counts as heard', from: base, event: ev('probe-ok'), now: 1000, expect: { lastHeardAt: 1000 }, actions: [] },
  { name: 'a heartbeat older than the last one does not move lastHeardAt back', from: st({ lastHeardAt: 2000 }), event: hb(), now: 1500, expect: { lastHeardAt: 2000 }, actions: [] },
  // direct probe outstanding
  { name: 'a tick before the probe timeout waits', from: st({ probe: 'direct', probeSentAt: 3000 }), event: ev('tick'), now: 3499, actions: [] },
  { name: 'a probe timeout asks k peers for indirect probes', from: st({ probe: 'direct', probeSentAt: 3000 }), event: ev('tick'), now: 3500, expect: { probe: 'indirect', probeSentAt: 3500 }, actions: [indirect(3)] },
  { name: 'a reported probe failure asks for indirect probes before the timeout', from: st({ probe: 'direct', probeSentAt: 3000 }), event: ev('probe-failed'), now: 3100, expect: { probe: 'indirect', probeSentAt: 3100 }, actions: [indirect(3)] },
  { name: 'a successful direct probe cancels the probing', from: st({ probe: 'direct', probeSentAt: 3000 }), event: ev('probe-ok'), now: 3100, expect: { probe: 'none', lastHeardAt: 3100 }, actions: [] },
  { name: 'a heartbeat during the direct probe cancels the probing', from: st({ probe: 'direct', probeSentAt: 3000 }), event: hb(), now: 3100, expect: { probe: 'none', lastHeardAt: 3100 }, actions: [] },
  { name: 'an indirect failure while the direct probe is outstanding is ignored', from: st({ probe: 'direct', probeSentAt: 3000 }), event: ev('indirect-probe-failed'), now: 3100, actions: [] },
  { name: 'without indirect probes (k = 0) a failed direct probe makes the peer suspect', from: st({ probe: 'direct', probeSentAt: 8000 }), event: ev('probe-failed'), now: 9000, params: noK, expect: { status: 'suspect', since: 9000, probe: 'none' }, actions: [act('report-suspect')] },
  // indirect probes outstanding
  { name: 'a tick before the indirect timeout waits', from: st({ probe: 'indirect', probeSentAt: 3500 }), event: ev('tick'), now: 3999, actions: [] },
  { name: 'an indirect timeout makes the peer suspect', from: st({ probe: 'indirect', probeSentAt: 3500 }), event: ev('tick'), now: 4000, expect: { status: 'suspect', since: 4000, probe: 'none' }, actions: [act('report-suspect')] },
  { name: 'a reported indirect failure makes the peer suspect at once', from: st({ probe: 'indirect', probeSentAt: 3500 }), event: ev('indirect-probe-failed'), now: 3600, expect: { status: 'suspect', since: 3600, probe: 'none' }, actions: [act('report-suspect')] },
  { name: 'a successful indirect probe keeps the peer alive', from: st({ probe: 'indirect', probeSentAt: 3500 }), event: ev('indirect-probe-ok'), now: 3600, expect: { status: 'alive', probe: 'none', lastHeardAt: 3600 }, actions: [] },
  { name: 'a late direct failure during indirect probing is ignored', from: st({ probe: 'indirect', probeSentAt: 3500 }), event: ev('probe-failed'), now: 3600, actions: [] },
  // suspect
  { name: 'a suspect peer stays suspect until the suspicion timeout', from: SUSPECT, event: ev('tick'), now: 4599, actions: [] },
  { name: 'the suspicion timeout declares the peer down', from: SUSPECT, event: ev('tick'), now: 4600, expect: { status: 'down', since: 4600, probeSentAt: 4600 }, actions: [act('report-down')] },
  { name: 'a heartbeat refutes the suspicion', from: SUSPECT, event: hb(), now: 4300, expect: { status: 'alive', since: 4300, lastHeardAt: 4300 }, actions: [act('report-alive')] },
  { name: 'a heartbeat with failing HAProxy brings a suspect back as unhealthy', from: SUSPECT, event: hb(false), now: 4300, expect: { status: 'alive', haproxyHealthy: false, since: 4300, lastHeardAt: 4300 }, actions: [act('report-unhealthy')] },
  { name: 'a late successful probe refutes the suspicion', from: SUSPECT, event: ev('probe-ok'), now: 4300, expect: { status: 'alive', since: 4300, lastHeardAt: 4300 }, actions: [act('report-alive')] },
  { name: 'a late successful indirect probe refutes the suspicion', from: SUSPECT, event: ev('indirect-probe-ok'), now: 4300, expect: { status: 'alive', since: 4300, lastHeardAt: 4300 }, actions: [act('report-alive')] },
  { name: 'a probe comeback keeps the last known HAProxy health', from: st({ ...SUSPECT, haproxyHealthy: false }), event: ev('probe-ok'), now: 4300, expect: { status: 'alive', haproxyHealthy: false, since: 4300, lastHeardAt: 4300 }, actions: [act('report-unhealthy')] },
  { name: 'probe failures do not touch a suspect peer', from: SUSPECT, event: ev('probe-failed'), now: 4300, actions: [] },
  { name: 'indirect failures do not touch a suspect peer', from: SUSPECT, event: ev('indirect-probe-failed'), now: 4300, actions: [] },
  // down
  { name: 'a heartbeat brings a down peer back', from: DOWN, event: hb(), now: 7000, expect: { status: 'alive', since: 7000, lastHeardAt: 7000 }, actions: [act('report-alive')] },
  { name: 'a successful probe brings a down peer back', from: DOWN, event: ev('probe-ok'), now: 7000, expect: { status: 'alive', since: 7000, lastHeardAt: 7000 }, actions: [act('report-alive')] },
  { name: 'a down peer is not re-probed before the interval', from: DOWN, event: ev('tick'), now: 9599, actions: [] },
  { name: 'a down peer is re-probed directly every interval', from: DOWN, event: ev('tick'), now: 9600, expect: { probe: 'direct', probeSentAt: 9600 }, actions: [act('send-direct-probe')] },
  { name: 'a failed re-probe leaves the peer down, quietly', from: { ...DOWN, probe: 'direct', probeSentAt: 9600 }, event: ev('probe-failed'), now: 9700, expect: { status: 'down', probe: 'none', probeSentAt: 9600 }, actions: [] },
  { name: 'a timed-out re-probe leaves the peer down, quietly', from: { ...DOWN, probe: 'direct', probeSentAt: 9600 }, event: ev('tick'), now: 10100, expect: { status: 'down', probe: 'none' }, actions: [] },
  { name: 'a re-probe still waiting does nothing', from: { ...DOWN, probe: 'direct', probeSentAt: 9600 }, event: ev('tick'), now: 10000, actions: [] },
  { name: 'a down peer never asks for indirect probes', from: DOWN, event: ev('indirect-probe-failed'), now: 9700, actions: [] },
  // seed compatibility: no probes, no suspicion period
  { name: 'seed: unseen for 119.999 s is still alive', from: base, event: ev('tick'), now: 119_999, params: SEED_COMPAT, actions: [] },
  { name: 'seed: unseen for 120 s at a check is down at once', from: base, event: ev('tick'), now: 120_000, params: SEED_COMPAT, expect: { status: 'down', since: 120_000, probeSentAt: 120_000 }, actions: [act('report-suspect'), act('report-down')] },
  { name: 'seed: a down server is never probed', from: st({ status: 'down', since: 120_000, probeSentAt: 120_000 }), event: ev('tick'), now: 900_000, params: SEED_COMPAT, actions: [] }
]

for (const row of rows) {
  t.test(row.name, async t => {
    const step = observe(row.from, row.event, row.now, row.params ?? LAN)
    t.same(step.state, { ...row.from, ...row.expect })
    t.same(step.actions, row.actions)
  })
}

/** Ticks every `tick` ms from `from` to `until`, applying `events` at their times first; returns the timed actions. */
function simulate (params: LivenessParams, start: PeerLiveness, until: number, events: Array<[number, LivenessEvent]> = [], tickFrom = 0): { at: number, type: string }[] {
  let state = start
  const log: { at: number, type: string }[] = []
  const pending = [...events]
  for (let now = tickFrom; now <= until; now += params.tickIntervalMs) {
    while (pending.length > 0 && (pending[0] as [number, LivenessEvent])[0] <= now) {
      const [at, event] = pending.shift() as [number, LivenessEvent]
      const step = observe(state, event, at, params)
      state = step.state
      for (const a of step.actions) log.push({ at, type: a.type })
    }
    const step = observe(state, { type: 'tick' }, now, params)
    state = step.state
    for (const a of step.actions) log.push({ at: now, type: a.type })
  }
  return log
}

t.test('LAN: a peer silent after its heartbeat at 0 is probed at 3 s, suspect at 4 s, down at 4.6 s', async t => {
  t.same(simulate(LAN, initialPeerLiveness(0), 6000), [
    { at: 3000, type: 'send-direct-probe' },
    { at: 3500, type: 'request-indirect-probes' },
    { at: 4000, type: 'report-suspect' },
    { at: 4600, type: 'report-down' }
  ])
})

t.test('the preset budgets are LAN 5 s, WAN 20 s and the seed product\'s 420 s worst case', async t => {
  t.same([detectionBudgetMs(LAN), worstCaseDownMs(LAN)], [4600, 5000])
  t.same([detectionBudgetMs(WAN), worstCaseDownMs(WAN)], [19_000, 20_000])
  t.same([detectionBudgetMs(SEED_COMPAT), worstCaseDownMs(SEED_COMPAT)], [120_000, 420_000])
})

for (const params of Object.values(LIVENESS_PRESETS)) {
  t.test(`${params.name}: whatever the phase of the last heartbeat, down comes within the budget and the worst case`, async t => {
    for (let offset = 0; offset < params.tickIntervalMs; offset += Math.max(1, params.tickIntervalMs / 20)) {
      const log = simulate(params, initialPeerLiveness(offset), offset + worstCaseDownMs(params) + params.tickIntervalMs, [], 0)
      const down = log.find(a => a.type === 'report-down')
      t.ok(down !== undefined, `offset ${offset}: down`)
      const took = (down?.at ?? Infinity) - offset
      t.ok(took >= detectionBudgetMs(params) && took <= worstCaseDownMs(params), `offset ${offset}: down after ${took} ms`)
    }
  })
}

const seedCases: Array<[string, number, number]> = [
  ['last seen 180 s into a cycle: down at the next check, 120 s later', 180_000, 300_000],
  ['last seen 181 s into a cycle: missed by 1 s, down a cycle later (419 s)', 181_000, 600_000],
  ['last seen right at a check: down at the next check, 300 s later', 0, 300_000]
]
for (const [name, heard, downAt] of seedCases) {
  t.test(`seed: ${name}`, async t => {
    const log = simulate(SEED_COMPAT, initialPeerLiveness(heard), 1_200_000)
    t.same(log, [{ at: downAt, type: 'report-suspect' }, { at: downAt, type: 'report-down' }])
  })
}

t.test('LAN: heartbeats every second keep a peer alive with no actions at all', async t => {
  const beats: Array<[number, LivenessEvent]> = Array.from({ length: 30 }, (_, i) => [i * 1000, hb()])
  t.same(simulate(LAN, initialPeerLiveness(0), 29_000, beats), [])
})

t.test('LAN: a down peer that heartbeats again is alive, and a new silence runs the full timeline again', async t => {
  const log = simulate(LAN, initialPeerLiveness(0), 12_000, [[6000, hb()]])
  t.same(log.map(a => `${a.at} ${a.type}`), [
    '3000 send-direct-probe', '3500 request-indirect-probes', '4000 report-suspect', '4600 report-down',
    '6000 report-alive',
    '9000 send-direct-probe', '9500 request-indirect-probes', '10000 report-suspect', '10600 report-down'
  ])
})

t.test('LAN: a peer whose heartbeats are lost but answers probes never becomes suspect', async t => {
  const answers: Array<[number, LivenessEvent]> = [[3050, ev('probe-ok')], [6150, ev('probe-ok')]]
  t.same(simulate(LAN, initialPeerLiveness(0), 8000, answers).map(a => `${a.at} ${a.type}`), ['3000 send-direct-probe', '6100 send-direct-probe'])
})

t.test('viewOf maps status and HAProxy health to the reported view', async t => {
  t.equal(viewOf(base), 'alive')
  t.equal(viewOf(st({ haproxyHealthy: false })), 'unhealthy')
  t.equal(viewOf(st({ status: 'suspect', haproxyHealthy: false })), 'suspect')
  t.equal(viewOf(st({ status: 'down' })), 'down')
})

t.test('presets are frozen', async t => {
  t.ok(Object.isFrozen(LAN) && Object.isFrozen(WAN) && Object.isFrozen(SEED_COMPAT) && Object.isFrozen(LIVENESS_PRESETS))
})
