// Table tests of the quorum rule (docs/decisions/004-quorum.md): who votes, what counts as
// fresh, coordinator-only partitions, peers-only suspicion, and the 1- and 2-server fleets.
import t from 'tap'
import { QUORUM_LAN, QUORUM_PRESETS, QUORUM_SEED_COMPAT } from '../../../coordinator/failover/constants.ts'
import { isDownByQuorum } from '../../../coordinator/failover/quorum.ts'
import type { PeerObservation, PeerView, QuorumRule, QuorumTiming, QuorumVerdict } from '../../../coordinator/failover/types.ts'
import { LIVENESS_PRESETS } from '../../../node/liveness/constants.ts'

const NOW = 1_000_000
const C = 'coordinator'
const FIVE = ['A', 'B', 'C', 'D', 'E']

/** `observer` sees A as `state`, reported `age` ms ago, in that state for `held` ms. */
function o (observer: string, state: PeerView, age = 1000, held = 5000, target = 'A'): PeerObservation {
  return { observerId: observer, targetId: target, state, at: NOW - age, since: NOW - age - held }
}

function rule (fleet: string[], timing: QuorumTiming = QUORUM_LAN): QuorumRule {
  return { coordinatorId: C, fleet, ...timing }
}

interface Row {
  name: string
  fleet: string[]
  observations: PeerObservation[]
  timing?: QuorumTiming
  expect: Pick<QuorumVerdict, 'down' | 'state' | 'reason'> & Partial<Pick<QuorumVerdict, 'voters' | 'downVotes' | 'needed' | 'coordinatorView'>>
}

const rows: Row[] = [
  // five servers, target A, peers B-E
  { name: 'coordinator and all four peers see it down: down', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'down'), o('D', 'down'), o('E', 'down')], expect: { down: true, state: 'down', reason: 'quorum', voters: 4, downVotes: 4, needed: 3 } },
  { name: 'three of four peers agree with the coordinator: down', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'down'), o('D', 'down'), o('E', 'alive')], expect: { down: true, state: 'down', reason: 'quorum', voters: 4, downVotes: 3, needed: 3 } },
  { name: 'two of four is no strict majority: not down, suspect', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'down'), o('D', 'alive'), o('E', 'alive')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 4, downVotes: 2, needed: 3 } },
  { name: 'suspect votes are voters that do not agree yet', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'down'), o('D', 'suspect'), o('E', 'alive')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 4, downVotes: 2 } },
  { name: 'unhealthy votes say reachable: they do not agree', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'unhealthy'), o('D', 'unhealthy')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 3, downVotes: 1 } },
  { name: 'silent peers (gone or cut off) do not vote: two of two agree, down', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'down')], expect: { down: true, state: 'down', reason: 'quorum', voters: 2, downVotes: 2, needed: 2 } },
  { name: 'stale observations do not vote', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'alive'), o('D', 'down', 20_000), o('E', 'down', 20_000)], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 2, downVotes: 1, needed: 2 } },
  { name: 'an observation exactly freshnessMs old still counts', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down', QUORUM_LAN.freshnessMs)], expect: { down: true, state: 'down', reason: 'quorum', voters: 1 } },
  { name: 'an observation 1 ms past freshnessMs does not', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down', QUORUM_LAN.freshnessMs + 1)], expect: { down: false, state: 'suspect', reason: 'no-peer-view', voters: 0 } },
  { name: 'coordinator-only partition: coordinator sees it down, every peer alive: not down', fleet: FIVE, observations: [o(C, 'down'), o('B', 'alive'), o('C', 'alive'), o('D', 'alive'), o('E', 'alive')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 4, downVotes: 0 } },
  { name: 'coordinator-only partition: coordinator sees it down, no peer reports: not down', fleet: FIVE, observations: [o(C, 'down')], expect: { down: false, state: 'suspect', reason: 'no-peer-view', voters: 0 } },
  { name: 'coordinator-only partition: peers\' reports all stale: not down', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down', 60_000), o('C', 'down', 60_000)], expect: { down: false, state: 'suspect', reason: 'no-peer-view' } },
  { name: 'peers all see it down but the coordinator hears it: not down, suspect only', fleet: FIVE, observations: [o(C, 'alive'), o('B', 'down'), o('C', 'down'), o('D', 'down'), o('E', 'down')], expect: { down: false, state: 'suspect', reason: 'coordinator-disagrees', coordinatorView: 'alive', downVotes: 4 } },
  { name: 'peers down, coordinator sees it unhealthy (reachable): not down', fleet: FIVE, observations: [o(C, 'unhealthy'), o('B', 'down'), o('C', 'down'), o('D', 'down')], expect: { down: false, state: 'suspect', reason: 'coordinator-disagrees', coordinatorView: 'unhealthy' } },
  { name: 'peers down, coordinator only suspects: not down yet', fleet: FIVE, observations: [o(C, 'suspect'), o('B', 'down'), o('C', 'down'), o('D', 'down')], expect: { down: false, state: 'suspect', reason: 'coordinator-disagrees', coordinatorView: 'suspect' } },
  { name: 'peers down, coordinator has no view: not down', fleet: FIVE, observations: [o('B', 'down'), o('C', 'down'), o('D', 'down')], expect: { down: false, state: 'suspect', reason: 'no-coordinator-view', coordinatorView: null } },
  { name: 'a stale coordinator view is no view', fleet: FIVE, observations: [o(C, 'down', 11_000), o('B', 'down'), o('C', 'down'), o('D', 'down')], expect: { down: false, state: 'suspect', reason: 'no-coordinator-view' } },
  { name: 'everyone sees it alive: up', fleet: FIVE, observations: [o(C, 'alive'), o('B', 'alive'), o('C', 'alive')], expect: { down: false, state: 'up', reason: 'coordinator-disagrees' } },
  { name: 'no observations at all: up', fleet: FIVE, observations: [], expect: { down: false, state: 'up', reason: 'no-coordinator-view', voters: 0 } },
  { name: 'a peer\'s newest observation replaces its older one', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down', 3000), o('B', 'alive', 1000), o('C', 'alive')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 2, downVotes: 0 } },
  { name: 'the coordinator\'s newest observation counts, in any order', fleet: FIVE, observations: [o(C, 'down', 500), o(C, 'alive', 4000), o('B', 'down')], expect: { down: true, state: 'down', reason: 'quorum', coordinatorView: 'down' } },
  { name: 'the target\'s word about itself does not vote', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'alive'), o('A', 'down')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 2, downVotes: 1 } },
  { name: 'observers outside the fleet do not vote', fleet: FIVE, observations: [o(C, 'down'), o('B', 'down'), o('C', 'alive'), o('X', 'down'), o('Y', 'down')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 2, downVotes: 1 } },
  { name: 'observations of other servers do not count', fleet: FIVE, observations: [o(C, 'down'), o('B', 'alive'), o('C', 'down', 1000, 5000, 'B'), o('D', 'down', 1000, 5000, 'B')], expect: { down: false, state: 'suspect', reason: 'no-majority', voters: 1, downVotes: 0 } },
  // three servers, one of the peers dead as well
  { name: '3 servers, A and C dead: the coordinator and B suffice', fleet: ['A', 'B', 'C'], observations: [o(C, 'down'), o('B', 'down')], expect: { down: true, state: 'down', reason: 'quorum', voters: 1, needed: 1 } },
  // two servers: coordinator + the other one must agree
  { name: '2 servers: coordinator and the other server agree: down', fleet: ['A', 'B'], observations: [o(C, 'down'), o('B', 'down')], expect: { down: true, state: 'down', reason: 'quorum', voters: 1, downVotes: 1, needed: 1 } },
  { name: '2 servers: the other server hears it: not down', fleet: ['A', 'B'], observations: [o(C, 'down'), o('B', 'alive')], expect: { down: false, state: 'suspect', reason: 'no-majority' } },
  { name: '2 servers: the other server only suspects: not down', fleet: ['A', 'B'], observations: [o(C, 'down'), o('B', 'suspect')], expect: { down: false, state: 'suspect', reason: 'no-majority' } },
  { name: '2 servers: the other server is silent: not down', fleet: ['A', 'B'], observations: [o(C, 'down')], expect: { down: false, state: 'suspect', reason: 'no-peer-view' } },
  { name: '2 servers: only the other server sees it down: not down', fleet: ['A', 'B'], observations: [o(C, 'alive'), o('B', 'down')], expect: { down: false, state: 'suspect', reason: 'coordinator-disagrees' } },
  // one server: the coordinator alone, after a confirmation window
  { name: '1 server: down for less than soloConfirmMs: not yet', fleet: ['A'], observations: [o(C, 'down', 0, QUORUM_LAN.soloConfirmMs - 1)], expect: { down: false, state: 'suspect', reason: 'solo-confirming', needed: 0 } },
  { name: '1 server: down for soloConfirmMs: down', fleet: ['A'], observations: [o(C, 'down', 0, QUORUM_LAN.soloConfirmMs)], expect: { down: true, state: 'down', reason: 'solo-confirmed', voters: 0 } },
  { name: '1 server: confirmation counts from `since`, not from the report time', fleet: ['A'], observations: [o(C, 'down', 5000, QUORUM_LAN.soloConfirmMs - 5000)], expect: { down: true, state: 'down', reason: 'solo-confirmed' } },
  { name: '1 server: coordinator sees it alive: up', fleet: ['A'], observations: [o(C, 'alive')], expect: { down: false, state: 'up', reason: 'coordinator-disagrees' } },
  { name: '1 server: a stale coordinator view: not down', fleet: ['A'], observations: [o(C, 'down', 20_000, 100_000)], expect: { down: false, state: 'up', reason: 'no-coordinator-view' } },
  { name: '1 server: strangers claiming it is down change nothing', fleet: ['A'], observations: [o(C, 'alive'), o('X', 'down')], expect: { down: false, state: 'up', reason: 'coordinator-disagrees' } },
  { name: '1 server, seed preset: the 120 s unseen already confirmed it, down at once', fleet: ['A'], timing: QUORUM_SEED_COMPAT, observations: [o(C, 'down', 0, 0)], expect: { down: true, state: 'down', reason: 'solo-confirmed' } },
  { name: 'seed preset: a report from the previous 5-minute check is still fresh', fleet: ['A', 'B'], timing: QUORUM_SEED_COMPAT, observations: [o(C, 'down', 300_000), o('B', 'down', 300_000)], expect: { down: true, state: 'down', reason: 'quorum' } }
]

for (const row of rows) {
  t.test(row.name, async t => {
    const verdict = isDownByQuorum(row.observations, 'A', NOW, rule(row.fleet, row.timing))
    const picked = Object.fromEntries(Object.keys(row.expect).map(k => [k, verdict[k as keyof QuorumVerdict]]))
    t.same(picked, row.expect)
  })
}

t.test('the verdict carries the fresh observations it was made of', async t => {
  const stale = o('D', 'down', 60_000)
  const verdict = isDownByQuorum([o(C, 'down'), o('B', 'down'), stale, o('X', 'down')], 'A', NOW, rule(FIVE))
  t.same(verdict.observations.map(x => x.observerId).sort(), ['B', C])
})

t.test('every preset keeps an observation fresh for at least two report refreshes or checks of the matching liveness preset', async t => {
  for (const [name, timing] of Object.entries(QUORUM_PRESETS)) {
    const liveness = LIVENESS_PRESETS[name as keyof typeof LIVENESS_PRESETS]
    t.ok(timing.freshnessMs >= 2 * Math.max(liveness.reportRefreshMs, liveness.tickIntervalMs), name)
  }
})
