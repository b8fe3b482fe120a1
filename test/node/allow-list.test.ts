// The mesh allow-list (connection gaters of node/mesh/node-mesh.ts and
// coordinator/mesh/coordinator-mesh.ts), in process and for real: a libp2p peer that was
// never enrolled cannot connect to a shield node or to the coordinator; a server
// decommissioned through the API keeps its connections during the grace period, and after
// it the coordinator and the other node hang up on it and refuse it when it dials again.
import { multiaddr } from '@multiformats/multiaddr'
import t from 'tap'
import type { MeshPeer } from '../../proto/mesh-peer.ts'
import { createMeshPeer, newPeerKey } from '../../proto/mesh-peer.ts'
import { InProcessFleet, waitFor } from '../fixtures/in-process-fleet.ts'

const GRACE_S = 2
/** How long a refused peer is watched for sneaking in (node redials run every 2 s). */
const WATCH_MS = 3000

const peersOf = (peer: MeshPeer): string[] => peer.getPeers().map(p => p.toString())

/** Dials `addr` from `peer`; resolves whether a connection to the remote stayed open after a moment. */
async function connects (peer: MeshPeer, addr: string, remote: string): Promise<boolean> {
  try {
    await peer.dial(multiaddr(addr), { signal: AbortSignal.timeout(3000) })
  } catch {
    return false
  }
  await new Promise(resolve => setTimeout(resolve, 300))
  return peersOf(peer).includes(remote)
}

/** Watches `peer` for WATCH_MS: true when `other` ever shows among its peers. */
async function everSees (peer: MeshPeer, other: string): Promise<boolean> {
  const until = Date.now() + WATCH_MS
  while (Date.now() < until) {
    if (peersOf(peer).includes(other)) return true
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return false
}

t.test('only peers of the signed config get in; a decommissioned peer is cut after the grace period', async t => {
  const fleet = await InProcessFleet.start(t, 2, { LUMOS_DECOMMISSION_GRACE_S: String(GRACE_S) })
  const node1 = fleet.node(1).mesh.libp2p
  const node2 = fleet.node(2).mesh.libp2p
  const coordinator = fleet.coordinator.mesh.libp2p
  const [id1, id2, coordinatorId] = [node1.peerId.toString(), node2.peerId.toString(), coordinator.peerId.toString()]
  const node1Addr = fleet.node(1).mesh.multiaddrs()[0] as string
  const coordinatorAddr = fleet.coordinator.mesh.multiaddrs()[0] as string
  await waitFor('the two nodes connected to each other and to the coordinator', () =>
    peersOf(node1).includes(id2) && peersOf(node1).includes(coordinatorId) && peersOf(node2).includes(coordinatorId))

  await t.test('a peer that was never enrolled is refused by a node and by the coordinator', async t => {
    const stranger = await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    t.teardown(async () => { await stranger.stop() })
    const strangerId = stranger.peerId.toString()
    t.equal(await connects(stranger, node1Addr, id1), false, 'dialling the node fails')
    t.equal(await connects(stranger, coordinatorAddr, coordinatorId), false, 'dialling the coordinator fails')
    t.equal(await everSees(node1, strangerId), false, 'the node never lists the stranger among its peers')
    t.notOk(peersOf(coordinator).includes(strangerId), 'neither does the coordinator')
    t.ok(peersOf(node1).includes(id2), 'the enrolled peer stays connected meanwhile')
  })

  await t.test('a decommissioned server keeps its connections during the grace period and is cut after it', async t => {
    const decommissionedAt = Date.now()
    const answer = await fleet.call('DELETE', `/v1/accounts/${fleet.accountId}/servers/${fleet.shield(2).serverId}`)
    t.equal(answer.server.status, 'decommissioned')
    await new Promise(resolve => setTimeout(resolve, (GRACE_S * 1000) / 2))
    t.ok(peersOf(node1).includes(id2) && peersOf(coordinator).includes(id2), 'halfway through the grace node 2 is still connected to node 1 and the coordinator')

    await waitFor('node 2 cut off from node 1 and the coordinator', () => !peersOf(node1).includes(id2) && !peersOf(coordinator).includes(id2), GRACE_S * 1000 + 15_000)
    const cutMs = Date.now() - decommissionedAt
    t.ok(cutMs >= GRACE_S * 1000, `cut after the grace (${cutMs} ms after the DELETE)`)
    t.comment(`node 2 was cut ${cutMs} ms after DELETE with a ${GRACE_S} s grace`)
    const servers = (await fleet.call('GET', `/v1/accounts/${fleet.accountId}/servers/${fleet.shield(2).serverId}`)).server as { cutAt?: string }
    t.ok(servers.cutAt, 'the server record says when it was cut')
    t.notOk(fleet.node(1).mesh.serverIdOf(id2), 'node 1 no longer knows node 2 as a server of the account')

    t.equal(await connects(node2, node1Addr, id1), false, 'node 2 dialling node 1 again is refused')
    t.equal(await connects(node2, coordinatorAddr, coordinatorId), false, 'node 2 dialling the coordinator again is refused')
    t.equal(await everSees(node1, id2), false, 'node 2 does not get back in through its own redials')
    t.notOk(peersOf(coordinator).includes(id2), 'nor into the coordinator')
    t.ok(peersOf(node1).includes(coordinatorId), 'node 1 keeps its coordinator connection')
    t.ok(fleet.coordinatorLog.lines.some(l => l.msg === 'peer denied and hung up' && l.peer === id2), 'the coordinator logged the cut')
  })
})
