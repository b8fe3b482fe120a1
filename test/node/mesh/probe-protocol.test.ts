// /lumos/probe/1 between real libp2p peers on 127.0.0.1: a direct probe is answered
// reachable; an indirect probe is answered with the helper's own direct probe of the
// target, within its timeout; the helper probes no peer outside the signed config.
import { pino } from 'pino'
import t from 'tap'
import { createMeshPeer, newPeerKey, type MeshPeer } from '../../../proto/mesh-peer.ts'
import { ProbeService } from '../../../node/mesh/probe-protocol.ts'

const logger = pino({ level: 'silent' })
const TIMEOUT_MS = 300

t.test('direct and indirect probes', async t => {
  const peers: MeshPeer[] = await Promise.all([0, 1, 2, 3].map(async () => await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })))
  const [asker, helper, target, outsider] = peers as [MeshPeer, MeshPeer, MeshPeer, MeshPeer]
  t.teardown(async () => { await Promise.all(peers.map(async peer => { await peer.stop() })) })
  // The signed config lists asker, helper and target; the outsider is not in it.
  const listed = new Set([asker, helper, target].map(peer => peer.peerId.toString()))
  const services = peers.map(peer => new ProbeService({ peer, mayProbe: (id) => listed.has(id), timeoutMs: TIMEOUT_MS, logger }))
  for (const service of services) await service.start()
  const [asks, helps] = services as [ProbeService, ProbeService]
  await helper.dial(target.getMultiaddrs())
  await helper.dial(outsider.getMultiaddrs())
  await asker.dial(helper.getMultiaddrs())
  const ask = async (to: MeshPeer, about: MeshPeer | string): Promise<boolean> =>
    await asks.askToProbe(to.peerId.toString(), typeof about === 'string' ? about : about.peerId.toString(), AbortSignal.timeout(TIMEOUT_MS * 3))

  t.equal(await asks.probe(helper.peerId.toString(), AbortSignal.timeout(TIMEOUT_MS)), true, 'a direct probe is answered reachable')
  t.equal(await ask(helper, target), true, 'the helper reaches the target for the asker')
  t.equal(await ask(helper, outsider), false, 'the helper does not probe a peer outside the signed config')
  t.equal(await ask(helper, asker), false, 'nor the asker itself')
  t.equal(await ask(helper, 'not-a-peer-id'), false, 'a malformed target is not reachable')
  const answered = helps.answered

  await target.stop()
  const started = Date.now()
  t.equal(await ask(helper, target), false, 'a stopped target is not reachable')
  t.ok(Date.now() - started < TIMEOUT_MS * 3, 'and the answer came within the timeouts')
  t.equal(helps.answered, answered + 1, 'the helper answered every request')

  await helper.stop()
  await t.rejects(asks.probe(helper.peerId.toString(), AbortSignal.timeout(TIMEOUT_MS)), 'a direct probe of a stopped peer fails')
})
