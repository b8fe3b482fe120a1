// Bench-only shield node (forked by bench/gossip/run.ts): the real receive path of
// node/index.ts — NodeMesh (gossipsub validator, sync, catch-up), NodeHeartbeat, ShieldNode
// on a real LevelDB NodeStore — with the HAProxy applier replaced by a recorder, so what is
// timed is gossip delivery alone. Records, per version, when the validator accepted it
// ('verified'), when it was durable ('stored') and fully decoded ('decoded', where
// rendering would start), and reports them to the parent in one IPC message once decoded:
// a message per stage would put three IPC sends on the path being timed and wake the
// parent three times per node.
import { join } from 'node:path'
import { pino } from 'pino'
import type { ConfigVersion } from '../../proto/codec.ts'
import { importPublicKey } from '../../proto/envelope.ts'
import { decodePeerKey, heartbeatTopic } from '../../proto/mesh-peer.ts'
import { NodeHeartbeat } from '../../node/mesh/heartbeat.ts'
import { NodeMesh } from '../../node/mesh/node-mesh.ts'
import { ShieldNode } from '../../node/shield-node.ts'
import { openNodeStore } from '../../node/store/store-recovery.ts'
import { cpuMs, nowMs, type NodeEvent, type NodeStart, type ParentMessage } from './protocol.ts'

const send = (event: NodeEvent): void => { process.send?.(event) }

/** Stage times of versions not yet decoded; a stage seen after its version was reported goes alone. */
const stages = new Map<number, { verifiedAt?: number, via?: 'gossip' | 'sync', storedAt?: number }>()
const reported = new Set<number>()
function record (version: number, stage: { verifiedAt?: number, via?: 'gossip' | 'sync', storedAt?: number }): void {
  if (reported.has(version)) {
    if (stage.verifiedAt !== undefined) send({ type: 'delivered', version, verifiedAt: stage.verifiedAt, via: stage.via })
    if (stage.storedAt !== undefined) send({ type: 'delivered', version, storedAt: stage.storedAt })
    return
  }
  stages.set(version, { ...stage, ...stages.get(version) })
}
function reportDecoded (version: number, decodedAt: number): void {
  const known = stages.get(version) ?? {}
  stages.delete(version)
  reported.add(version)
  send({ type: 'delivered', version, ...known, decodedAt })
}

async function start (msg: NodeStart): Promise<() => Promise<void>> {
  const { enrollment } = msg
  // Info level to a file, as a production node logs (the log call cost is part of the path).
  const logger = pino({ level: 'info', base: { service: 'node' } }, pino.destination({ dest: join(msg.dir, 'node.log'), mkdir: true }))
  const store = await openNodeStore(join(msg.dir, 'db'), logger)
  let shield: ShieldNode | undefined
  const mesh = new NodeMesh({
    privateKey: decodePeerKey(msg.peerKey),
    listen: [msg.listen],
    logger: logger.child({ component: 'mesh' }),
    validate: (data, from) => shield?.validate(data, from) ?? 'ignore',
    onEnvelope: async (envelope, from) => { await shield?.receive(envelope, from) },
    syncSource: async (request) => await shield?.syncSource(request) ?? [],
    haveVersion: () => shield?.version ?? 0
  })
  await mesh.start()
  const selfPeerId = mesh.libp2p.peerId.toString()
  const log = logger.child({ server: enrollment.serverId })
  shield = new ShieldNode({
    enrollment,
    coordinatorKey: importPublicKey(enrollment.coordinatorPublicKey),
    pinCoordinatorKey: async () => {},
    store,
    // The recorder: takes the version like ConfigApplier.schedule, renders nothing.
    applier: { schedule: async (_config: ConfigVersion) => {}, isServing: async () => false },
    onNewVersion: (config) => {
      reportDecoded(config.version, nowMs())
      mesh.follow(config, selfPeerId, enrollment.coordinatorPeerId)
    },
    onVerified: (version, _from, via) => { record(version, { verifiedAt: nowMs(), via }) },
    onStored: (version) => { record(version, { storedAt: nowMs() }) },
    logger: log.child({ component: 'shield' })
  })
  await shield.resume()
  mesh.join(enrollment.accountId, enrollment.configTopic, enrollment.coordinatorPeerId, enrollment.bootstrap)
  const node = shield
  const heartbeat = new NodeHeartbeat({
    pubsub: mesh.libp2p.services.pubsub,
    topic: heartbeatTopic(enrollment.accountId),
    self: () => ({ serverId: enrollment.serverId, peerId: selfPeerId, appliedVersion: node.held.version, appliedHash: node.held.hash, sentAtMs: Date.now(), haproxyHealthy: true }),
    serverIdOf: (peerId) => mesh.serverIdOf(peerId),
    onClaim: (peerId, version) => { mesh.noteClaim(peerId, version) },
    logger: log.child({ component: 'heartbeat' })
  })
  heartbeat.start()
  return async () => {
    heartbeat.stop()
    await mesh.stop()
    await store.close()
  }
}

let stop: (() => Promise<void>) | undefined
process.on('message', (msg: ParentMessage) => {
  if (msg.type === 'start') {
    start(msg).then(s => { stop = s; send({ type: 'ready' }) }, (err: unknown) => { console.error(err); process.exit(1) })
  } else if (msg.type === 'cpu') {
    send({ type: 'cpu', ms: cpuMs() })
  } else if (msg.type === 'stop') {
    void (stop?.() ?? Promise.resolve()).finally(() => process.exit(0))
  }
})
process.on('disconnect', () => { void (stop?.() ?? Promise.resolve()).finally(() => process.exit(0)) })
