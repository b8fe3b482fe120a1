// The coordinator is where heartbeats and reports end. A real coordinator (HTTP API, LevelDB,
// libp2p) and two enrolled libp2p peers of one account: a hostile one that publishes
// heartbeats and reports straight to the coordinator, and a listener subscribed to both
// topics. The coordinator's validator takes only what the claimed server's own peer sent
// about itself (the sending peer, authenticated by noise, is the originator), well-formed and bounded: anything else is rejected, logged with the sender
// and an error code, and the sender is scored down: three rejected messages and its gossip
// is ignored. What it accepts it handles and does not forward: the listener never receives it.
import t, { type Test } from 'tap'
import type { Report } from '../../../proto/codec.ts'
import { encodeHeartbeat } from '../../../proto/heartbeat.ts'
import { createMeshPeer, heartbeatTopic, newPeerKey, reportsTopic, type MeshPeer } from '../../../proto/mesh-peer.ts'
import { encodeReport, HAPROXY_RELOAD_FAILED, MAX_ERROR_MESSAGE_CHARS, MAX_REPORT_BYTES } from '../../../proto/report.ts'
import { InProcessFleet, waitFor } from '../../fixtures/in-process-fleet.ts'

interface EnrolledPeer { peer: MeshPeer, serverId: string, peerId: string }

/** Enrols libp2p peers as new servers of the fleet's account, connected to the coordinator; stopped at teardown. */
function enroller (t: Test, fleet: InProcessFleet): (name: string) => Promise<EnrolledPeer> {
  const peers: MeshPeer[] = []
  t.teardown(async () => { for (const peer of peers) await peer.stop() })
  return async (name) => {
    const server = await fleet.call('POST', `/v1/accounts/${fleet.accountId}/servers`, { name, publicIp: '203.0.113.20' })
    const peer = await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    peers.push(peer)
    const enrollment = await fleet.call('POST', '/v1/enroll', { token: server.token, peerId: peer.peerId.toString(), multiaddrs: peer.getMultiaddrs().map(String) })
    // libp2p limits inbound connections per host and second: retry a refused dial.
    await waitFor(`${name} connected to the coordinator`, async () => await peer.dial(fleet.coordinator.mesh.libp2p.getMultiaddrs()).then(() => true, () => undefined))
    t.equal(enrollment.accountId, fleet.accountId)
    return { peer, serverId: server.server.id as string, peerId: peer.peerId.toString() }
  }
}

async function coordinatorSubscribed (enrolled: EnrolledPeer, fleet: InProcessFleet, topics: string[]): Promise<void> {
  const coordinatorId = fleet.coordinator.mesh.libp2p.peerId.toString()
  await waitFor('the coordinator on the topics, as the peer sees it', () =>
    topics.every(topic => enrolled.peer.services.pubsub.getSubscribers(topic).some(p => p.toString() === coordinatorId)))
}

const heartbeat = (claimed: { serverId: string, peerId: string }, sentAtMs = Date.now()): Uint8Array =>
  encodeHeartbeat({ ...claimed, appliedVersion: 1, appliedHash: new Uint8Array(32), sentAtMs, haproxyHealthy: true })

t.test('the coordinator rejects malformed or impersonating heartbeats and reports, scores their sender down, and forwards none it accepts', async t => {
  // Enterprise: room for the fresh attackers below (pro allows 5 servers).
  const fleet = await InProcessFleet.start(t, 0, {}, 'enterprise')
  const { coordinator, accountId } = fleet
  const lines = fleet.coordinatorLog.lines
  const enrolled = enroller(t, fleet)
  const hostile = await enrolled('Compromised box')
  const listener = await enrolled('Listener')
  const coordinatorId = coordinator.mesh.libp2p.peerId.toString()
  const topics = { heartbeat: heartbeatTopic(accountId), reports: reportsTopic(accountId) }
  const heard: string[] = []
  const attackers = new Set([hostile.peerId])
  let headHeartbeats = 0
  // The coordinator's own head heartbeats reach the listener; what the hostile peers sent must not.
  listener.peer.services.pubsub.addEventListener('gossipsub:message', (event) => {
    const { msg, propagationSource } = event.detail
    if (attackers.has(propagationSource.toString())) heard.push(msg.topic)
    if (propagationSource.toString() === coordinatorId) headHeartbeats++
  })
  for (const topic of Object.values(topics)) listener.peer.services.pubsub.subscribe(topic)
  await waitFor('the listener subscribed to both topics, as the coordinator sees it', () =>
    Object.values(topics).every(topic => coordinator.mesh.libp2p.services.pubsub.getSubscribers(topic).some(p => p.toString() === listener.peerId)))

  const coordinatorSees = async (attacker: EnrolledPeer): Promise<void> => { await coordinatorSubscribed(attacker, fleet, Object.values(topics)) }
  await coordinatorSees(hostile)
  const observations = (claimed: { serverId: string, peerId: string }, state = 'alive'): Report =>
    ({ observations: { observerServerId: claimed.serverId, observerPeerId: claimed.peerId, views: [{ targetServerId: listener.serverId, state, ageMs: 10 }], sentAtMs: Date.now() } })
  const serverError = (message: string): Report =>
    ({ serverError: { serverId: hostile.serverId, peerId: hostile.peerId, type: HAPROXY_RELOAD_FAILED, message, version: 3, sentAtMs: Date.now() } })

  // What the sender says about itself is taken, and goes no further.
  await waitFor('the coordinator\'s roster to list both peers', () => [hostile, listener].every(p => coordinator.fleet.peerOf(accountId, p.serverId) === p.peerId))
  const mark = lines.length
  await hostile.peer.services.pubsub.publish(topics.heartbeat, heartbeat(hostile))
  await hostile.peer.services.pubsub.publish(topics.reports, encodeReport(serverError('[ALERT] config refused')))
  const taken = await waitFor('the server error to reach the fleet state', () => lines.slice(mark).find(l => l.msg === 'server reported an error'))
  t.equal(taken.server, hostile.serverId, 'the server error is recorded for the sender\'s server')
  await waitFor('the hostile server\'s heartbeat to be taken', () => coordinator.fleet.runtime(accountId, hostile.serverId)?.appliedVersion === 1)
  await waitFor('a head heartbeat of the coordinator at the listener', () => headHeartbeats > 0)
  await new Promise(resolve => setTimeout(resolve, 500))
  t.same(heard, [], 'the coordinator forwarded neither the heartbeat nor the report to the listener')
  t.notOk(lines.slice(mark).some(l => String(l.msg).endsWith('message rejected')), 'nothing genuine was rejected')

  const attacks: Array<{ name: string, topic: keyof typeof topics, data: Uint8Array, code: string }> = [
    { name: 'a heartbeat under another server id', topic: 'heartbeat', data: heartbeat({ serverId: listener.serverId, peerId: hostile.peerId }), code: 'UNKNOWN_PEER' },
    { name: 'another server\'s heartbeat, relayed', topic: 'heartbeat', data: heartbeat(listener), code: 'UNKNOWN_PEER' },
    { name: 'another server\'s report, relayed', topic: 'reports', data: encodeReport(observations(listener)), code: 'UNKNOWN_PEER' },
    { name: 'a heartbeat claiming to be the coordinator', topic: 'heartbeat', data: heartbeat({ serverId: 'coordinator', peerId: hostile.peerId }), code: 'UNKNOWN_PEER' },
    { name: 'a heartbeat that does not decode', topic: 'heartbeat', data: new Uint8Array([0xff, 0xff, 0xff]), code: 'MALFORMED_MESSAGE' },
    { name: 'a report naming another peer as observer', topic: 'reports', data: encodeReport(observations({ serverId: hostile.serverId, peerId: listener.peerId })), code: 'UNKNOWN_PEER' },
    { name: 'a report under another server id', topic: 'reports', data: encodeReport(observations({ serverId: listener.serverId, peerId: hostile.peerId })), code: 'UNKNOWN_PEER' },
    { name: 'a report with an unknown view', topic: 'reports', data: encodeReport(observations(hostile, 'zombie')), code: 'MALFORMED_MESSAGE' },
    { name: 'a report without a body', topic: 'reports', data: encodeReport({}), code: 'MALFORMED_MESSAGE' },
    { name: 'an oversized report', topic: 'reports', data: new Uint8Array(MAX_REPORT_BYTES + 1), code: 'MALFORMED_MESSAGE' },
    { name: 'an oversized error message', topic: 'reports', data: encodeReport(serverError('x'.repeat(MAX_ERROR_MESSAGE_CHARS + 1))), code: 'MALFORMED_MESSAGE' }
  ]
  // The first attacks come from the peer whose genuine messages were taken above; a fresh
  // enrolled peer takes over each time the coordinator may have graylisted it (after two).
  let attacker = hostile
  let rejectedFromAttacker = 0
  for (const attack of attacks) {
    if (rejectedFromAttacker === 2) {
      attacker = await enrolled(`Compromised box ${attackers.size + 1}`)
      attackers.add(attacker.peerId)
      await coordinatorSees(attacker)
      rejectedFromAttacker = 0
    }
    const before = lines.length
    await attacker.peer.services.pubsub.publish(topics[attack.topic], attack.data)
    const logged = await waitFor(`${attack.name} to be rejected`, () => lines.slice(before).find(l => l.msg === `${attack.topic} message rejected`))
    t.same({ peer: logged.peer, code: logged.code }, { peer: attacker.peerId, code: attack.code }, `${attack.name}: rejected, logged with the sender and ${attack.code}`)
    rejectedFromAttacker++
  }
  t.same(heard, [], 'the listener heard nothing')

  // Rejections score the sender down: below the graylist threshold (-80) after three, and
  // then even its genuine heartbeat is ignored.
  const spammer = await enrolled('Spamming box')
  await coordinatorSees(spammer)
  await waitFor('the coordinator\'s roster to list the spammer', () => coordinator.fleet.peerOf(accountId, spammer.serverId) === spammer.peerId)
  const coordinatorScore = (): number => (coordinator.mesh.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(spammer.peerId)
  t.equal(coordinatorScore(), 0, 'an enrolled peer starts at score 0')
  for (let i = 0; i < 3; i++) {
    const before = lines.length
    await spammer.peer.services.pubsub.publish(topics.heartbeat, heartbeat({ serverId: listener.serverId, peerId: spammer.peerId }))
    await waitFor(`rejection ${i + 1} of the spammer's heartbeats`, () => lines.slice(before).find(l => l.msg === 'heartbeat message rejected' && l.peer === spammer.peerId))
  }
  // gossipsub caches a score for one heartbeat (700 ms): poll past the cache.
  const graylisted = await waitFor('the spammer below the graylist threshold', () => coordinatorScore() < -80 ? true : undefined, 3000).catch(() => false)
  t.ok(graylisted, `the spammer is scored below the graylist threshold (${coordinatorScore()})`)
  const logged = await waitFor('the coordinator to log the graylisting', () => lines.find(l => String(l.msg).startsWith('peer graylisted') && l.peer === spammer.peerId))
  t.ok(logged.score < -80, `the coordinator logged that it graylisted the spammer (score ${logged.score})`)
  // gossipsub lets a peer that scored >= 0 through unchecked for up to a second: wait it out.
  await new Promise(resolve => setTimeout(resolve, 1100))
  await spammer.peer.services.pubsub.publish(topics.heartbeat, heartbeat(spammer))
  await new Promise(resolve => setTimeout(resolve, 1000))
  t.equal(coordinator.fleet.runtime(accountId, spammer.serverId)?.appliedVersion ?? null, null, 'the graylisted peer\'s genuine heartbeat is ignored')
  await listener.peer.services.pubsub.publish(topics.heartbeat, heartbeat(listener))
  await waitFor('the listener\'s genuine heartbeat to be taken', () => coordinator.fleet.runtime(accountId, listener.serverId)?.appliedVersion === 1)
  t.pass('a peer that sent nothing invalid is still heard')
  // The penalty decays (0.99 per second): about 6 s after the third rejection it is back above -80.
  const back = await waitFor('the coordinator to log that the spammer is no longer graylisted', () => lines.find(l => l.msg === 'peer no longer graylisted' && l.peer === spammer.peerId))
  t.ok(back.score >= -80, `the coordinator logged the end of the graylisting (score ${back.score})`)
})

// An enrolment is answered only once the coordinator's roster lists the new peer: its first
// heartbeats used to arrive before the roster's next refresh (once a second), be rejected as
// from an unknown peer, and graylist it; the coordinator then sent it no config versions.
t.test('a server that speaks as soon as its enrolment is answered is heard and never scored down', async t => {
  const fleet = await InProcessFleet.start(t, 0, {}, 'enterprise')
  const { coordinator, accountId } = fleet
  const enrolled = enroller(t, fleet)
  const score = (peerId: string): number => (coordinator.mesh.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(peerId)
  for (let round = 1; round <= 8; round++) {
    const mark = fleet.coordinatorLog.lines.length
    const fresh = await enrolled(`Fresh box ${round}`)
    await coordinatorSubscribed(fresh, fleet, [heartbeatTopic(accountId)])
    for (let i = 0; i < 3; i++) await fresh.peer.services.pubsub.publish(heartbeatTopic(accountId), heartbeat(fresh, Date.now() + i))
    await waitFor(`round ${round}: the fresh server's heartbeat taken`, () => coordinator.fleet.runtime(accountId, fresh.serverId)?.appliedVersion === 1)
    const rejected = fleet.coordinatorLog.lines.slice(mark).filter(l => l.msg === 'heartbeat message rejected' && l.peer === fresh.peerId)
    t.same(rejected.map(l => l.code), [], `round ${round}: none of its heartbeats rejected`)
    t.ok(score(fresh.peerId) >= 0, `round ${round}: its score is not negative (${score(fresh.peerId)})`)
  }
})
