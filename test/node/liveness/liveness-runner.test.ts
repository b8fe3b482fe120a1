// The failure detector for real: libp2p peers on 127.0.0.1 (test/node/liveness/fleet.ts)
// heartbeat, probe each other over /lumos/probe/1 and publish their views on the reports
// topic, where an observer in the coordinator's place collects them. A silent peer that
// answers probes stays alive (directly, or through another peer when the direct path is
// cut: heartbeats are not relayed, the indirect probe is the way round); a stopped peer
// goes suspect, then down within the preset's worst case; a peer whose heartbeat says
// HAProxy fails is reported unhealthy.
import t, { type Test } from 'tap'
import { LAN, type LivenessParams } from '../../../node/liveness/constants.ts'
import { worstCaseDownMs } from '../../../node/liveness/liveness.ts'
import { sleep, startFleet, waitFor, type Fleet } from './fleet.ts'

/**
 * LAN's shape with heartbeats ten times as often, so silent-peer stories play out in about a
 * second; probe and suspicion timers keep room for a loaded test machine.
 */
const FAST: LivenessParams = Object.freeze({
  ...LAN,
  heartbeatIntervalMs: 100,
  probeTimeoutMs: 500,
  indirectProbes: 2,
  indirectProbeTimeoutMs: 800,
  suspicionTimeoutMs: 500,
  downProbeIntervalMs: 1000,
  tickIntervalMs: 50,
  reportRefreshMs: 500
})

async function fleetFor (t: Test, ...args: Parameters<typeof startFleet>): Promise<Fleet> {
  const fleet = await startFleet(...args)
  t.teardown(fleet.stop)
  return fleet
}

/** Every view `sample()` returned, sampled every 10 ms for `ms`. */
async function viewsDuring (ms: number, sample: () => string | undefined): Promise<Set<string | undefined>> {
  const seen = new Set<string | undefined>()
  const until = Date.now() + ms
  while (Date.now() < until) {
    seen.add(sample())
    await sleep(10)
  }
  return seen
}

t.test('a peer that stops heartbeating but still answers direct probes stays alive', async t => {
  const fleet = await fleetFor(t, { size: 2, params: FAST })
  const [a, b] = fleet.members as [Fleet['members'][0], Fleet['members'][0]]
  await waitFor('a to report b alive', () => fleet.reportedView(a, b) === 'alive')

  b.heartbeat.stop()
  const silentFrom = Date.now()
  const views = await viewsDuring(2000, () => a.runner.viewOf(b.serverId))
  // From the silence on: a probe started earlier (b's heartbeat late on a loaded machine) is
  // aborted by the runner when that heartbeat arrives, which is not b failing to answer.
  const probes = a.probeLog.filter(p => p.kind === 'direct' && p.target === b.serverId && p.at >= silentFrom)
  t.ok(probes.length >= 2, `a probed the silent b directly (${probes.length} probes)`)
  t.ok(probes.every(p => p.ok), 'and b answered every probe')
  t.ok(b.probes.answered >= probes.length, 'b\'s probe handler answered them')
  t.same([...views], ['alive'], 'a never saw b as anything but alive')
  t.equal(fleet.reportedView(a, b, silentFrom + 600), 'alive', 'and keeps reporting it alive while it is silent')
})

t.test('a peer cut off from one observer is kept alive through an indirect probe by a third peer', async t => {
  // srv_0 and srv_1 may not connect to each other; srv_2 reaches both.
  const fleet = await fleetFor(t, { size: 3, params: FAST, deny: [[0, 1]] })
  const [a, b, c] = fleet.members as [Fleet['members'][0], Fleet['members'][0], Fleet['members'][0]]
  await waitFor('a to report b alive (through c\'s indirect probes)', () => fleet.reportedView(a, b) === 'alive')
  await waitFor('a to hear c\'s heartbeats', () => a.heardFrom.has(c.serverId))
  t.notOk(a.heardFrom.has(b.serverId), 'heartbeats travel one hop: c does not relay b\'s to a')

  // b's heartbeats stop: a must probe it, cannot reach it directly, and asks c.
  b.heartbeat.stop()
  const answeredByC = c.probes.answered
  const views = await viewsDuring(2000, () => a.runner.viewOf(b.serverId))
  const direct = a.probeLog.filter(p => p.kind === 'direct' && p.target === b.serverId)
  const indirect = a.probeLog.filter(p => p.kind === 'indirect' && p.target === b.serverId)
  t.ok(direct.length >= 1 && direct.every(p => !p.ok), `a's direct probes of b failed (${direct.length})`)
  t.ok(indirect.some(p => p.ok && p.helper === c.serverId), 'c answered a\'s indirect probe: b is reachable')
  t.ok(c.probes.answered > answeredByC, 'c\'s probe handler served the indirect probes')
  t.same([...views], ['alive'], 'a never suspected b')
})

t.test('a peer whose heartbeat says HAProxy fails is reported unhealthy, and alive once it recovers', async t => {
  const fleet = await fleetFor(t, { size: 2, params: FAST })
  const [a, b] = fleet.members as [Fleet['members'][0], Fleet['members'][0]]
  await waitFor('a to report b alive', () => fleet.reportedView(a, b) === 'alive')

  b.healthy = false
  await waitFor('a to see b unhealthy', () => a.runner.viewOf(b.serverId) === 'unhealthy', 3000)
  await waitFor('a to report b unhealthy', () => fleet.reportedView(a, b) === 'unhealthy', 3000)
  t.pass('a reports b unhealthy: reachable, but its HAProxy fails')

  b.healthy = true
  await waitFor('a to report b alive again', () => fleet.reportedView(a, b) === 'alive', 3000)
  t.pass('and alive again once its HAProxy answers')
})

t.test('with the LAN preset, a stopped peer is reported suspect, then down, within the worst-case detection time', async t => {
  const fleet = await fleetFor(t, { size: 3, params: LAN })
  const [a, b, c] = fleet.members as [Fleet['members'][0], Fleet['members'][0], Fleet['members'][0]]
  await waitFor('a and b to report c alive', () => fleet.reportedView(a, c) === 'alive' && fleet.reportedView(b, c) === 'alive')
  await sleep(LAN.heartbeatIntervalMs * 1.5)
  t.equal(a.runner.viewOf(c.serverId), 'alive', 'c is alive before it stops')

  await c.stop()
  const stoppedAt = Date.now()
  const down = await waitFor('a to report c down', () => fleet.received.find(r => r.at > stoppedAt && r.report.observerServerId === a.serverId &&
    r.report.views.some(v => v.targetServerId === c.serverId && v.state === 'down')), worstCaseDownMs(LAN) + 3000)
  const elapsed = down.at - stoppedAt
  const suspect = fleet.received.find(r => r.at > stoppedAt && r.report.observerServerId === a.serverId &&
    r.report.views.some(v => v.targetServerId === c.serverId && v.state === 'suspect'))
  t.ok(suspect !== undefined && suspect.at <= down.at, 'a reported c suspect first')
  t.ok(a.probeLog.some(p => p.kind === 'direct' && p.target === c.serverId && !p.ok), 'after a failed direct probe')
  t.ok(a.probeLog.some(p => p.kind === 'indirect' && p.target === c.serverId && p.helper === b.serverId && !p.ok), 'and a failed indirect probe through b')
  const view = down.report.views.find(v => v.targetServerId === c.serverId)
  t.match(view, { targetServerId: c.serverId, state: 'down' }, 'the report names c by server id')
  t.ok(elapsed <= worstCaseDownMs(LAN), `down reported ${elapsed} ms after c stopped (worst case ${worstCaseDownMs(LAN)} ms)`)
  t.comment(`LAN preset: stopped → suspect in ${(suspect?.at ?? 0) - stoppedAt} ms, → down in ${elapsed} ms`)
  await waitFor('b to report c down too', () => fleet.reportedView(b, c, stoppedAt) === 'down', 3000)
  t.equal(fleet.reportedView(a, b, stoppedAt), 'alive', 'b, still running, stays alive in a\'s reports')
})
