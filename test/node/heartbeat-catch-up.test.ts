// Heartbeats, in process and for real: coordinator (HTTP API, LevelDB, libp2p) and one
// shield node (libp2p, LevelDB, HAProxy). A version whose gossip never reached the node
// (the coordinator's publish is dropped) still arrives: the coordinator's head heartbeat
// shows the node it is behind, and the node fetches the version over /lumos/sync/1.
// An enrolled peer that publishes heartbeats in another server's name is rejected and scored
// down until graylisted.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import t from 'tap'
import { sha256Hex } from '../../coordinator/api/auth.ts'
import { startCoordinator, type Coordinator } from '../../coordinator/index.ts'
import { encodeHeartbeat } from '../../proto/heartbeat.ts'
import { createMeshPeer, heartbeatTopic, newPeerKey, type MeshPeer } from '../../proto/mesh-peer.ts'
import { startNode, type RunningNode } from '../../node/index.ts'
import { freePort } from '../../scripts/fleet/local-fleet.ts'
import { capturedLogger, waitFor } from '../fixtures/wait.ts'

const ADMIN_KEY = 'admin-key-for-heartbeat-catch-up-test'
const TEMPLATE = new URL('../../haproxy-templates/haproxy.cfg.tpl', import.meta.url).pathname
const WAIT_MS = 15_000
const HEARTBEAT_MS = 200

t.test('a node behind the coordinator catches up from its head heartbeat, and spoofed heartbeats are rejected', async t => {
  const dir = t.testdir()
  // HAProxy limits unix socket paths to 97 bytes: the node's data dir is a short temp dir.
  const nodeDir = await mkdtemp(join(tmpdir(), 'lumos-hb-'))
  const nodeLog = capturedLogger('info')
  let coordinator: Coordinator | undefined
  let node: RunningNode | undefined
  let hostile: MeshPeer | undefined
  t.teardown(async () => {
    if (!t.passing()) t.comment(`last node log lines:\n${nodeLog.lines.slice(-40).map(l => JSON.stringify(l).slice(0, 600)).join('\n')}`)
    const failures: unknown[] = []
    const step = async (run: () => unknown): Promise<void> => { try { await run() } catch (err) { failures.push(err) } }
    await step(async () => await node?.stop({ stopHaproxy: true }))
    await step(async () => await hostile?.stop())
    await step(async () => await coordinator?.stop())
    await step(async () => { await rm(nodeDir, { recursive: true, force: true }) })
    if (failures.length > 0) throw failures[0]
  })

  coordinator = await startCoordinator({
    dataDir: join(dir, 'coordinator'),
    httpHost: '127.0.0.1',
    httpPort: 0,
    p2pHost: '127.0.0.1',
    p2pPort: 0,
    adminKeyHash: sha256Hex(ADMIN_KEY),
    logLevel: 'warn',
    heartbeatIntervalMs: HEARTBEAT_MS
  }, pino({ level: 'warn' }))
  const api = `http://127.0.0.1:${(coordinator.api.server.address() as { port: number }).port}`
  const call = async (method: string, path: string, body?: unknown): Promise<Record<string, any>> => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(WAIT_MS)
    })
    const answer = await response.json() as Record<string, any>
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer)}`)
    return answer
  }
  const accountId = (await call('POST', '/v1/accounts', { name: 'Heartbeat Co', plan: 'pro' })).account.id as string
  const shieldServer = await call('POST', `/v1/accounts/${accountId}/servers`, { name: 'EU Frankfurt', publicIp: '203.0.113.10' })
  const hostileServer = await call('POST', `/v1/accounts/${accountId}/servers`, { name: 'Compromised box', publicIp: '203.0.113.66' })
  const shieldServerId = shieldServer.server.id as string

  node = await startNode({
    token: shieldServer.token as string,
    coordinatorUrl: api,
    dataDir: nodeDir,
    httpBind: `127.0.0.1:${await freePort()}`,
    httpsBind: `127.0.0.1:${await freePort()}`,
    p2pHost: '127.0.0.1',
    p2pPort: 0,
    haproxyBinary: 'haproxy',
    templateFile: TEMPLATE,
    logLevel: 'info',
    stopHaproxyOnExit: true,
    heartbeatIntervalMs: HEARTBEAT_MS
  }, nodeLog.logger)
  const running = node
  const store = coordinator.store
  const head = async (): Promise<number> => (await store.getHead(accountId))?.version ?? 0

  const domain = (await call('POST', `/v1/accounts/${accountId}/domains`, {
    hostname: 'shop.example.com', servers: [shieldServerId], origins: [{ address: '127.0.0.1', port: 9 }]
  })).domain as { id: string }
  const before = await head()
  await waitFor(`the node holding version ${before}`, () => running.shield.version === before)

  await t.test('a version whose gossip was lost arrives through the coordinator heartbeat', async t => {
    // The gossip of the next version is lost on the way to the node.
    const mesh = coordinator?.mesh as Coordinator['mesh']
    const publish = mesh.publish.bind(mesh)
    let dropped = 0
    mesh.publish = async () => { dropped++ }
    try {
      await call('PUT', `/v1/accounts/${accountId}/domains/${domain.id}`, {
        hostname: 'shop.example.com', aliases: ['www.shop.example.com'], servers: [shieldServerId], origins: [{ address: '127.0.0.1', port: 9 }]
      })
    } finally {
      mesh.publish = publish
    }
    const next = await head()
    t.equal(dropped, 1, 'the coordinator signed a version and its gossip was dropped')
    t.ok(next > before, `the head moved to ${next}`)
    const fetched = await waitFor(`the node holding version ${next}`, () => nodeLog.lines.find(l => l.msg === 'config version received and stored' && l.version === next))
    t.equal(fetched.peer, mesh.libp2p.peerId.toString(), 'fetched from the coordinator')
    // Logged once the sync is over, which includes applying the version.
    const caughtUp = await waitFor('the catch-up of a heartbeat claim to finish', () => nodeLog.lines.find(l => l.msg === 'caught up from peer' && l.version === next))
    t.equal(caughtUp.peer, mesh.libp2p.peerId.toString(), 'through the claim of the coordinator heartbeat, not a gossip message')
    t.equal(running.shield.version, next)
  })

  await t.test('a heartbeat in another server\'s name from an enrolled peer is rejected', async t => {
    hostile = await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
    const attacker = hostile
    const hostileId = attacker.peerId.toString()
    const enrolled = await fetch(`${api}/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: hostileServer.token, peerId: hostileId, multiaddrs: attacker.getMultiaddrs().map(ma => ma.toString()) }),
      signal: AbortSignal.timeout(WAIT_MS)
    })
    t.ok(enrolled.ok, 'the hostile peer is enrolled')
    const topic = heartbeatTopic(accountId)
    attacker.services.pubsub.subscribe(topic)
    const nodePeerId = running.mesh.libp2p.peerId.toString()
    await waitFor('the node on the heartbeat topic, seen from the hostile peer', async () => {
      if (attacker.services.pubsub.getSubscribers(topic).some(p => p.toString() === nodePeerId)) return true
      await attacker.dial(multiaddr(running.mesh.multiaddrs()[0] as string), { signal: AbortSignal.timeout(2000) }).catch(() => {})
      return undefined
    })
    const held = running.shield.version
    const mark = nodeLog.lines.length
    // Claims to be the coordinator with a far newer version.
    await attacker.services.pubsub.publish(topic, encodeHeartbeat({ serverId: 'coordinator', peerId: hostileId, appliedVersion: held + 1000, appliedHash: new Uint8Array(32), sentAtMs: Date.now(), haproxyHealthy: true }))
    const rejected = await waitFor('the spoofed heartbeat rejected', () => nodeLog.lines.slice(mark).find(l => l.msg === 'heartbeat rejected' && l.peer === hostileId))
    t.equal(rejected.code, 'UNKNOWN_PEER')
    t.equal(running.shield.version, held, 'the held version did not change')

    // Each rejection scores the sender down: after three it is below the graylist threshold.
    const nodeScore = (): number => (running.mesh.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(hostileId)
    for (let i = 2; i <= 3; i++) {
      const before = nodeLog.lines.length
      await attacker.services.pubsub.publish(topic, encodeHeartbeat({ serverId: 'coordinator', peerId: hostileId, appliedVersion: held + 1000 + i, appliedHash: new Uint8Array(32), sentAtMs: Date.now(), haproxyHealthy: true }))
      await waitFor(`spoofed heartbeat ${i} rejected`, () => nodeLog.lines.slice(before).find(l => l.msg === 'heartbeat rejected' && l.peer === hostileId))
    }
    // gossipsub caches a score for one heartbeat (700 ms): poll past the cache.
    const graylisted = await waitFor('the hostile peer below the graylist threshold', () => nodeScore() < -80 ? true : undefined, 3000).catch(() => false)
    t.ok(graylisted, `the hostile peer is scored below the graylist threshold (${nodeScore()})`)
  })
})
