// The coordinator's per-account view without a network: its own liveness machine, the
// peers' reported views and the quorum decide online / offline / error, server_down is
// asked for once per outage, and a coordinator-only loss of a server changes nothing.
import t from 'tap'
import type { Report } from '../../../proto/codec.ts'
import { LAN } from '../../../node/liveness/constants.ts'
import { worstCaseDownMs } from '../../../node/liveness/liveness.ts'
import { AccountFleet, ERROR_STATUS_MS, type PersistedRuntime } from '../../../coordinator/fleet/account-fleet.ts'
import { QUORUM_LAN } from '../../../coordinator/failover/constants.ts'
import type { ServerRecord } from '../../../coordinator/model.ts'

const T0 = 1_000_000
const IDS = ['s1', 's2', 's3'] as const

function record (id: string, extra: Partial<ServerRecord> = {}): ServerRecord {
  return { id, accountId: 'acc', name: id, publicIp: `203.0.113.${id.slice(1)}`, status: 'online', tokenHash: '', tokenPrefix: '', peerId: `peer-${id}`, multiaddrs: [], createdAt: '', enrolledAt: '', ...extra }
}

function fleetOf (persisted: Record<string, PersistedRuntime> = {}): AccountFleet {
  const fleet = new AccountFleet('acc', LAN, QUORUM_LAN)
  fleet.setRoster(IDS.map(id => record(id)), id => persisted[id], T0)
  return fleet
}

const beat = (id: string, haproxyHealthy = true) => ({ serverId: id, peerId: `peer-${id}`, appliedVersion: 7, appliedHash: new Uint8Array(), sentAtMs: 0, haproxyHealthy })
const views = (observer: string, states: Record<string, string>, sentAtMs = 0): Report => ({
  observations: { observerServerId: observer, observerPeerId: `peer-${observer}`, sentAtMs, views: Object.entries(states).map(([targetServerId, state]) => ({ targetServerId, state, ageMs: 100 })) }
})

/** Heartbeats from `alive` every second and ticks every 100 ms from `from` to `to`; returns every change. */
function run (fleet: AccountFleet, from: number, to: number, alive: string[], each?: (now: number) => void) {
  const changed: string[] = []
  const newlyDown: string[] = []
  for (let now = from; now <= to; now += 100) {
    if ((now - from) % 1000 === 0) for (const id of alive) fleet.heartbeat(id, beat(id), now)
    for (const id of fleet.tick(now)) fleet.probeResult(id, alive.includes(id), now)
    each?.(now)
    const c = fleet.evaluate(now)
    changed.push(...c.changed)
    newlyDown.push(...c.newlyDown)
  }
  return { changed, newlyDown }
}

t.test('a server silent for the coordinator and its peers goes offline, and server_down is asked for once', async t => {
  const fleet = fleetOf()
  run(fleet, T0, T0 + 2000, ['s1', 's2', 's3'])
  t.equal(fleet.runtime('s1')?.status, 'online')
  const end = T0 + 2000 + worstCaseDownMs(LAN) + 1000
  const { newlyDown } = run(fleet, T0 + 2100, end, ['s2', 's3'], now => {
    if (now > T0 + 6000) for (const peer of ['s2', 's3']) fleet.report(peer, views(peer, { s1: 'down', s2: 'alive', s3: 'alive' }, now), now)
  })
  t.same(newlyDown, ['s1'], 'one server_down for the outage')
  const r = fleet.runtime('s1')
  t.equal(r?.status, 'offline')
  t.equal(r?.verdict.reason, 'quorum')
  t.equal(r?.health?.state, 'down')
  t.same(run(fleet, end + 100, end + 5000, ['s2', 's3'], now => {
    for (const peer of ['s2', 's3']) fleet.report(peer, views(peer, { s1: 'down' }, now), now)
  }).newlyDown, [], 'still the same outage: no second server_down')
})

t.test('the coordinator alone losing a server (peers still see it) leaves it online', async t => {
  const fleet = fleetOf()
  const { newlyDown } = run(fleet, T0, T0 + 12_000, ['s2', 's3'], now => {
    for (const peer of ['s2', 's3']) fleet.report(peer, views(peer, { s1: 'alive' }, now), now)
  })
  const r = fleet.runtime('s1')
  t.equal(r?.coordinatorView, 'down', 'the coordinator itself sees it down')
  t.equal(r?.verdict.reason, 'no-majority')
  t.equal(r?.status, 'online')
  t.equal(r?.health?.state, 'healthy')
  t.same(newlyDown, [])
})

t.test('without any peer view the coordinator\'s own down view is not enough', async t => {
  const fleet = fleetOf()
  run(fleet, T0, T0 + 12_000, ['s2', 's3'])
  t.equal(fleet.runtime('s1')?.verdict.reason, 'no-peer-view')
  t.equal(fleet.runtime('s1')?.status, 'online')
})

t.test('a heartbeat saying HAProxy fails makes the server error / unhealthy, without a quorum', async t => {
  const fleet = fleetOf()
  fleet.heartbeat('s1', beat('s1', false), T0 + 100)
  const { changed } = fleet.evaluate(T0 + 100)
  t.same(changed, ['s1'])
  t.equal(fleet.runtime('s1')?.status, 'error')
  t.equal(fleet.runtime('s1')?.health?.state, 'unhealthy')
  t.equal(fleet.runtime('s1')?.appliedVersion, 7)
})

t.test('a ServerErrorReport keeps the server in error for a while', async t => {
  const fleet = fleetOf()
  fleet.report('s2', { serverError: { serverId: 's2', peerId: 'peer-s2', type: 'haproxy_reload_failed', message: 'bad cfg', version: 9, sentAtMs: 0 } }, T0)
  fleet.evaluate(T0)
  t.equal(fleet.runtime('s2')?.status, 'error')
  t.same(fleet.runtime('s2')?.lastError, { type: 'haproxy_reload_failed', message: 'bad cfg', version: 9, at: T0 })
  fleet.heartbeat('s2', beat('s2'), T0 + ERROR_STATUS_MS)
  fleet.evaluate(T0 + ERROR_STATUS_MS)
  t.equal(fleet.runtime('s2')?.status, 'online')
})

t.test('an older report reordered by gossip does not replace a newer one; unknown targets are ignored', async t => {
  const fleet = fleetOf()
  fleet.report('s2', views('s2', { s1: 'down', nobody: 'down' }, 20), T0)
  fleet.report('s2', views('s2', { s1: 'alive' }, 10), T0 + 1)
  fleet.evaluate(T0 + 1)
  const seen = fleet.runtime('s1')?.verdict.observations.filter(o => o.observerId === 's2')
  t.same(seen?.map(o => o.state), ['down'])
})

t.test('after a restart, a server persisted offline stays down until heard, with its outage already announced', async t => {
  const persisted: PersistedRuntime = { status: 'offline', statusSince: T0 - 5000, lastSeen: T0 - 9000, appliedVersion: 3, outage: { since: T0 - 5000, notified: true }, lastError: null }
  const fleet = fleetOf({ s1: persisted })
  const { newlyDown } = run(fleet, T0, T0 + 1000, ['s2', 's3'], now => {
    for (const peer of ['s2', 's3']) fleet.report(peer, views(peer, { s1: 'down' }, now), now)
  })
  t.equal(fleet.runtime('s1')?.status, 'offline')
  t.same(newlyDown, [], 'no second server_down for the outage announced before the restart')
  fleet.heartbeat('s1', beat('s1'), T0 + 1100)
  fleet.evaluate(T0 + 1100)
  t.equal(fleet.runtime('s1')?.status, 'online')
  t.equal(fleet.runtime('s1')?.outage, null, 'heard again: the outage is over')
})

t.test('decommissioned and never-enrolled servers are not watched', async t => {
  const fleet = new AccountFleet('acc', LAN, QUORUM_LAN)
  fleet.setRoster([record('s1'), record('s2', { status: 'decommissioned' }), record('s3', { peerId: '' })], () => undefined, T0)
  t.same(fleet.serverIds(), ['s1'])
  t.equal(fleet.serverOfPeer('peer-s2'), undefined)
})
