// A hostile but enrolled mesh peer tries to inject config into a shield node over gossip.
// Everything is real and in-process: coordinator (HTTP API, LevelDB, libp2p), one shield
// node (libp2p, LevelDB, HAProxy) and a second libp2p peer enrolled with its own server
// token, so it is in the signed config and passes the node's connection gater. Whatever
// it publishes on the config topic must be rejected by the node's gossip validator
// (logged with the sender and the error code), must not change the held version, the
// stored versions or the applied pointer, and must not touch haproxy.cfg.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import t from 'tap'
import { withDomainDefaults } from '../../proto/domain-settings.ts'
import { sha256Hex } from '../../coordinator/api/auth.ts'
import { startCoordinator, type Coordinator } from '../../coordinator/index.ts'
import { configVersionCodec, signedEnvelopeCodec, type ConfigVersion } from '../../proto/codec.ts'
import { encodeEnvelope, generateSigningKey, importPublicKey, keyIdOf, signConfigVersion } from '../../proto/envelope.ts'
import { createMeshPeer, newPeerKey, type MeshPeer } from '../../proto/mesh-peer.ts'
import { startNode, type RunningNode } from '../../node/index.ts'
import { NodeStore } from '../../node/store/node-store.ts'
import { freePort } from '../../scripts/fleet/local-fleet.ts'
import { capturedLogger, waitFor } from '../fixtures/wait.ts'

const ADMIN_KEY = 'admin-key-for-gossip-validation-test'
const TEMPLATE = new URL('../../haproxy-templates/haproxy.cfg.tpl', import.meta.url).pathname
const WAIT_MS = 10_000
/** A rejection is logged within milliseconds on loopback; this bounds the wait when it is not. */
const REJECT_WAIT_MS = 5_000
/** The node's late-copy window, shortened so the replay below is older than it. */
const LATE_COPY_WINDOW_MS = 1000

t.test('a shield node rejects forged, tampered, malformed, foreign and replayed config gossip from an enrolled peer', async t => {
  const dir = t.testdir()
  // HAProxy limits unix socket paths to 97 bytes and the node keeps its sockets under
  // <dataDir>/haproxy, so the node's data dir is a short temp dir, not the long testdir.
  const nodeDir = await mkdtemp(join(tmpdir(), 'lumos-gv-'))
  const coordinatorLog = capturedLogger('warn')
  const nodeLog = capturedLogger('info')
  let coordinator: Coordinator | undefined
  let node: RunningNode | undefined
  let hostile: MeshPeer | undefined
  t.teardown(async () => {
    if (!t.passing()) t.comment(`last node log lines:\n${nodeLog.lines.slice(-40).map(l => JSON.stringify(l).slice(0, 600)).join('\n')}`)
    // Every step runs even when an earlier one fails, so nothing outlives the test; the
    // first failure is rethrown at the end so a broken shutdown still fails the test.
    const failures: unknown[] = []
    const step = async (run: () => unknown): Promise<void> => { try { await run() } catch (err) { failures.push(err) } }
    await step(async () => await node?.stop({ stopHaproxy: true }))
    await step(async () => await node?.haproxy.stop())
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
    logLevel: 'warn'
  }, coordinatorLog.logger)
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
  const store = coordinator.store

  const accountId = (await call('POST', '/v1/accounts', { name: 'Gossip Co', plan: 'pro' })).account.id as string
  const shieldServer = await call('POST', `/v1/accounts/${accountId}/servers`, { name: 'EU Frankfurt', publicIp: '203.0.113.10' })
  const hostileServer = await call('POST', `/v1/accounts/${accountId}/servers`, { name: 'Compromised box', publicIp: '203.0.113.66' })
  const shieldServerId = shieldServer.server.id as string

  // The real shield node.
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
    // A replay is a version superseded longer ago than this (younger ones may be late copies).
    lateCopyWindowMs: LATE_COPY_WINDOW_MS
  }, nodeLog.logger)
  const running = node
  const nodePeerId = running.mesh.libp2p.peerId.toString()
  const cfgPath = join(nodeDir, 'haproxy', 'haproxy.cfg')

  // The hostile peer: a real libp2p peer, enrolled with the second server's token.
  hostile = await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
  const attacker = hostile
  const hostileId = attacker.peerId.toString()
  const enrolled = await fetch(`${api}/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: hostileServer.token, peerId: hostileId, multiaddrs: attacker.getMultiaddrs().map(ma => ma.toString()) }),
    signal: AbortSignal.timeout(WAIT_MS)
  }).then(async r => {
    const answer = await r.json() as Record<string, string>
    if (!r.ok) throw new Error(`hostile enrollment answered ${r.status}: ${JSON.stringify(answer)}`)
    return answer
  })
  const topic = enrolled.configTopic as string
  t.equal(enrolled.accountId, accountId, 'the hostile peer is enrolled in the same account')
  const coordinatorKeyId = keyIdOf(importPublicKey(enrolled.coordinatorPublicKey as string))
  attacker.services.pubsub.subscribe(topic)

  // A domain on the real node; wait until that version is live in HAProxy.
  const domain = (await call('POST', `/v1/accounts/${accountId}/domains`, {
    hostname: 'shop.example.com', servers: [shieldServerId], origins: [{ address: '127.0.0.1', port: 9 }]
  })).domain as { id: string }
  const head = (await store.getHead(accountId))?.version ?? 0
  t.ok(head >= 4, `the account has several versions (head ${head})`)
  await waitFor(`node applying version ${head}`, () =>
    running.shield.version === head && nodeLog.lines.some(l => l.msg === 'config applied and HAProxy reloaded' && l.version === head))
  const headHeldAt = Date.now()
  const cfgBefore = await readFile(cfgPath)
  t.match(cfgBefore.toString(), /# shop\.example\.com/, 'haproxy.cfg serves the domain')
  const headEnvelope = await store.getVersion(accountId, head) as Uint8Array
  const oldEnvelope = await store.getVersion(accountId, head - 2) as Uint8Array

  // The mesh between the hostile peer and the node: the node dials it (it is in the signed
  // config); we dial too, and wait until the hostile peer sees the node on the topic.
  await waitFor('the node subscribed to the config topic, seen from the hostile peer', async () => {
    if (attacker.services.pubsub.getSubscribers(topic).some(p => p.toString() === nodePeerId)) return true
    await attacker.dial(multiaddr(running.mesh.multiaddrs()[0] as string), { signal: AbortSignal.timeout(2000) }).catch(() => {})
    return undefined
  })

  // Forged and tampered envelopes, all claiming the next version.
  const genuine = configVersionCodec.decode(signedEnvelopeCodec.decode(headEnvelope).payload)
  const evil: ConfigVersion = {
    ...genuine,
    version: head + 1,
    domains: [withDomainDefaults({ id: domain.id, hostname: 'shop.example.com', aliases: [], serverIds: [shieldServerId], origins: [{ address: '198.51.100.66', port: 80, weight: 100, tls: false }] })]
  }
  const attackerKey = generateSigningKey()
  const forged = signConfigVersion(evil, attackerKey)
  const spoofedKeyId = { ...signConfigVersion(evil, attackerKey), keyId: coordinatorKeyId }
  const tampered = { ...signedEnvelopeCodec.decode(headEnvelope), payload: configVersionCodec.encode(evil) }
  const garbage = new TextEncoder().encode('not a protobuf envelope at all')
  t.throws(() => signedEnvelopeCodec.decode(garbage), { code: 'MALFORMED_MESSAGE' }, 'precondition: the garbage does not decode')
  const otherAccount = signConfigVersion({ ...evil, accountId: 'acc_other', version: 1_000 }, attackerKey)
  // A genuinely signed version of another account of the same coordinator.
  const otherAccountId = (await call('POST', '/v1/accounts', { name: 'Other Co', plan: 'free' })).account.id as string
  await call('POST', `/v1/accounts/${otherAccountId}/servers`, { name: 'Other shield' })
  const foreignGenuine = await store.getVersion(otherAccountId, 1) as Uint8Array

  const attacks: Array<{ name: string, bytes: Uint8Array, code: string }> = [
    { name: 'higher version signed with another key', bytes: encodeEnvelope(forged), code: 'UNKNOWN_KEY' },
    { name: 'higher version signed with another key under the coordinator key id', bytes: encodeEnvelope(spoofedKeyId), code: 'BAD_SIGNATURE' },
    { name: 'genuine envelope with an altered payload and the original signature', bytes: encodeEnvelope(tampered), code: 'BAD_SIGNATURE' },
    { name: 'garbage bytes', bytes: garbage, code: 'MALFORMED_MESSAGE' },
    { name: 'envelope for another account signed with another key', bytes: encodeEnvelope(otherAccount), code: 'UNKNOWN_KEY' },
    { name: 'genuinely signed envelope of another account', bytes: foreignGenuine, code: 'WRONG_ACCOUNT' },
    { name: `replay of genuine version ${head - 2}`, bytes: oldEnvelope, code: 'STALE_VERSION' }
  ]

  const from = peerIdFromString(hostileId)
  const hostileScore = (): number => (running.mesh.libp2p.services.pubsub as unknown as { getScore: (peer: string) => number }).getScore(hostileId)
  const graylisted = (): boolean => hostileScore() < -80
  // A version superseded within the window may be a late honest copy, not scored: the replay is older.
  await new Promise(resolve => setTimeout(resolve, Math.max(0, headHeldAt + LATE_COPY_WINDOW_MS - Date.now())))
  for (const attack of attacks) {
    await t.test(attack.name, async t => {
      const mark = nodeLog.lines.length
      const alreadyGraylisted = graylisted()
      await attacker.services.pubsub.publish(topic, attack.bytes)
      // Once scored below the graylist threshold, the peer's messages are dropped before validation.
      const viaGossip = await waitFor(`a rejection of the hostile peer's message (${attack.code})`, () =>
        nodeLog.lines.slice(mark).find(l => l.msg === 'gossip message rejected' && l.peer === hostileId), alreadyGraylisted ? 1000 : REJECT_WAIT_MS)
        .catch(() => undefined)
      if (viaGossip === undefined) t.ok(alreadyGraylisted, 'no gossip rejection only because the peer is already graylisted')
      else t.equal(viaGossip.code, attack.code, 'rejected by the gossip validator with the expected code')
      // The validator's own verdict on the same bytes, whatever the peer's standing.
      const direct = nodeLog.lines.length
      t.equal(running.shield.validate(attack.bytes, from), 'reject', 'the validator rejects it')
      const logged = nodeLog.lines.slice(direct).find(l => l.msg === 'gossip message rejected' && l.peer === hostileId)
      t.equal(logged?.code, attack.code, 'rejected with the expected code')
      t.equal(logged?.level, 40, 'logged as a warning with the sending peer')
      t.equal(running.shield.version, head, 'the held version did not change')
      t.same(await running.shield.syncSource({ accountId, haveVersion: 0 }), [headEnvelope], 'the newest stored envelope is still the genuine head')
      t.same(await readFile(cfgPath), cfgBefore, 'haproxy.cfg bytes are unchanged')
      t.notOk(nodeLog.lines.slice(mark).some(l => l.msg === 'config version received and stored'), 'nothing was stored')
    })
  }

  await t.test('the validator ignores a copy of the held version and rejects an older one', async t => {
    const mark = nodeLog.lines.length
    t.equal(running.shield.validate(headEnvelope, from), 'ignore', 'a duplicate of the held version is ignored')
    t.notOk(nodeLog.lines.slice(mark).some(l => l.msg === 'gossip message rejected'), 'a duplicate is not logged as rejected')
    t.equal(running.shield.validate(oldEnvelope, from), 'reject', 'an older version is rejected')
    t.equal(running.shield.validate(await store.getVersion(accountId, 1) as Uint8Array, from), 'reject', 'the first version is rejected')
  })

  // gossipsub caches a peer's score for one heartbeat (700 ms): poll past the cache.
  const scoredDown = await waitFor('the hostile peer below the graylist threshold', () => graylisted() ? true : undefined, 3000).catch(() => false)
  t.ok(scoredDown, `the hostile peer is scored below the graylist threshold (${hostileScore()})`)
  await waitFor('the node to log the graylisting', () => nodeLog.lines.some(l => String(l.msg).startsWith('peer graylisted') && l.peer === hostileId) ? true : undefined)
  t.pass('the node logged that it graylisted the hostile peer')
  t.same(nodeLog.lines.filter(l => l.msg === 'gossip message rejected' && l.peer !== hostileId), [], 'no genuine message was rejected')

  // A genuine change still flows: the node was listening all along.
  await call('PUT', `/v1/accounts/${accountId}/domains/${domain.id}`, {
    hostname: 'shop.example.com', aliases: ['www.shop.example.com'], servers: [shieldServerId], origins: [{ address: '127.0.0.1', port: 9 }]
  })
  const next = (await store.getHead(accountId))?.version ?? 0
  t.ok(next > head, 'the coordinator signed a new version')
  await waitFor(`node applying version ${next}`, () =>
    // An alias change only touches the host map: it goes live through the runtime API, without a reload.
    running.shield.version === next && nodeLog.lines.some(l => (l.msg === 'config applied and HAProxy reloaded' || l.msg === 'config applied through the runtime API') && l.version === next))
  const hostsMap = (await readFile(cfgPath, 'utf8')).match(/map\(([^)]+)\)/)?.[1] ?? ''
  t.match(await readFile(hostsMap, 'utf8'), /www\.shop\.example\.com/, 'the new alias is live in the HAProxy map')

  t.same(coordinatorLog.lines.filter(l => Number(l.level) >= 50), [], 'the coordinator logged no errors')

  // After stopping the node, its store holds exactly the coordinator's signed versions and
  // the applied pointer names the genuine newest version.
  await running.stop({ stopHaproxy: true })
  node = undefined
  const nodeStore = new NodeStore(join(nodeDir, 'db'))
  await nodeStore.open()
  try {
    t.equal((await nodeStore.applied())?.version, next, 'the applied pointer is the genuine newest version')
    const latest = await nodeStore.latest()
    t.equal(latest?.version, next, 'the newest stored version is the genuine one')
    for (let v = 1; v <= next; v++) {
      const held = await nodeStore.getVersion(v)
      if (held !== undefined) t.same(held, await store.getVersion(accountId, v), `stored version ${v} is byte-identical to the coordinator's`)
    }
  } finally {
    await nodeStore.close()
  }
})
