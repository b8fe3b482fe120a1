// Bench-only shield node (forked by bench/gossip/run.ts): the real receive path of
// node/index.ts — NodeMesh (gossipsub validator, sync, catch-up), NodeHeartbeat, ShieldNode
// on a real LevelDB NodeStore — with the HAProxy applier replaced by a recorder, so what is
// timed is gossip delivery alone. Records, per version, when the validator accepted it
// ('verified'), when it was durable ('stored') and fully decoded ('decoded', where
// rendering would start), and hands them to the parent when it asks ('collect'), once the
// version is decoded. The parent asks after the delivery window: an IPC message per node
// inside it would wake the parent 20 times while the nodes it times wait for the cores.
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

type Stages = Omit<Extract<NodeEvent, { type: 'delivered' }>, 'type' | 'version'>
/** Stage times per version, kept until the parent collects them. */
const stages = new Map<number, Stages>()
/** Versions the parent asked for before they were decoded here. */
const asked = new Set<number>()
function record (version: number, stage: Stages): void {
  const known = { ...stage, ...stages.get(version) }
  stages.set(version, known)
  if (known.decodedAt !== undefined && asked.delete(version)) answer(version)
}
function answer (version: number): void {
  send({ type: 'delivered', version, ...stages.get(version) })
  stages.delete(version)
}
function collect (version: number): void {
  if (stages.get(version)?.decodedAt !== undefined) answer(version)
  else asked.add(version)
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
      record(config.version, { decodedAt: nowMs() })
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
  } else if (msg.type === 'collect') {
    collect(msg.version)
  } else if (msg.type === 'cpu') {
    send({ type: 'cpu', ms: cpuMs() })
  } else if (msg.type === 'stop') {
    void (stop?.() ?? Promise.resolve()).finally(() => process.exit(0))
  }
})
process.on('disconnect', () => { void (stop?.() ?? Promise.resolve()).finally(() => process.exit(0)) })
