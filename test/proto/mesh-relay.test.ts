// Versions reach the nodes whose link to the coordinator is down, through the mesh alone.
// Twenty real mesh peers on loopback with the product's gossipsub options (mesh degree
// MESH_DEGREE): a publisher standing for the coordinator, subscribed and flooding like it,
// and 19 nodes that all connect to each other, as shield nodes do. A quarter of the nodes
// refuse the publisher (and it them): every message must still reach every node, relayed by
// mesh peers, with no catch-up at this layer to hide a missing path.
import { randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import t from 'tap'
import { createMeshPeer, MESH_DEGREE, newPeerKey, type MeshPeer } from '../../proto/mesh-peer.ts'

const TOPIC = 'lumos/acc_relay_test/config/1'
const NODES = 19
const CUT = 5
const MESSAGES = 20
const PAYLOAD_BYTES = 6 * 1024
const WAIT_MS = 30_000

async function waitFor (what: string, done: () => boolean, state = (): string => ''): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what} ${state()}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

t.test('every node gets every message when a quarter of them cannot reach the publisher', async t => {
  const keys = await Promise.all(Array.from({ length: NODES + 1 }, async () => await newPeerKey()))
  const publisherKey = keys[0]!.publicKey.toString()
  const cut = new Set<number>(Array.from({ length: CUT }, (_, i) => i + 1))
  const cutIds = new Set([...cut].map(i => keys[i]!.publicKey.toString()))
  const peers: MeshPeer[] = []
  t.teardown(async () => { await Promise.all(peers.map(async peer => { await peer.stop() })) })
  for (const [i, key] of keys.entries()) {
    // The cut is symmetric: neither side may dial or accept the other.
    const isPeerAllowed = i === 0
      ? (peer: PeerId) => !cutIds.has(peer.toString())
      : cut.has(i) ? (peer: PeerId) => peer.toString() !== publisherKey : () => true
    peers.push(await createMeshPeer({ privateKey: key, listen: ['/ip4/127.0.0.1/tcp/0'], isPeerAllowed }))
  }
  const [publisher, ...nodes] = peers as [MeshPeer, ...MeshPeer[]]
  const arrivals = nodes.map(() => new Map<number, number>())
  for (const [i, node] of nodes.entries()) {
    node.services.pubsub.addEventListener('message', event => {
      const { data } = event.detail
      if (event.detail.topic === TOPIC && !arrivals[i]!.has(data[0]!)) arrivals[i]!.set(data[0]!, performance.now())
    })
  }
  for (const peer of peers) peer.services.pubsub.subscribe(TOPIC)
  // Every node dials every other node and the publisher, as shield nodes dial the servers
  // of the signed config and the coordinator; the cut ones are refused by the gaters.
  for (const [i, peer] of peers.entries()) {
    for (const other of peers.slice(i + 1)) {
      await peer.dial(other.getMultiaddrs()[0]!).catch(() => undefined)
    }
  }
  t.equal(publisher.getPeers().length, NODES - CUT, 'the publisher is connected to the nodes not cut only')
  for (const i of cut) t.notOk(peers[i]!.getPeers().some(peer => peer.toString() === publisherKey), `cut node ${i} has no link to the publisher`)
  // The GossipSub interface does not declare the router's mesh; the implementation has it.
  const meshSize = (peer: MeshPeer): number => (peer.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }).getMeshPeers(TOPIC).length
  // At least one mesh peer each (a node at Dlo or below grafts more at its next heartbeat;
  // pruning above Dhi can leave one briefly short on a loaded machine).
  await waitFor('every node to have a mesh peer', () => nodes.every(node => meshSize(node) > 0), () => `(mesh sizes ${nodes.map(meshSize).join(' ')}, connections ${nodes.map(node => node.getPeers().length).join(' ')})`)
  t.comment(`mesh sizes at the first message: ${nodes.map(meshSize).join(' ')} (D ${MESH_DEGREE.D}, Dlo ${MESH_DEGREE.Dlo}, Dhi ${MESH_DEGREE.Dhi})`)

  const sent: number[] = []
  for (let m = 0; m < MESSAGES; m++) {
    const payload = randomBytes(PAYLOAD_BYTES)
    payload[0] = m
    sent.push(performance.now())
    await publisher.services.pubsub.publish(TOPIC, payload)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  await waitFor('every node to get every message', () => arrivals.every(got => got.size === MESSAGES))

  const latency = (i: number): number[] => [...arrivals[i]!].map(([m, at]) => at - sent[m]!)
  const relayed = [...cut].flatMap(i => latency(i - 1))
  const direct = nodes.flatMap((_, i) => cut.has(i + 1) ? [] : latency(i))
  t.equal(relayed.length, CUT * MESSAGES, 'each cut node got each message, relayed')
  t.comment(`delivery ms, median / max: direct ${median(direct)} / ${Math.round(Math.max(...direct))}, relayed ${median(relayed)} / ${Math.round(Math.max(...relayed))}`)
})

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return Math.round(sorted[Math.floor(sorted.length / 2)]!)
}
