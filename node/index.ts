// Wires a shield node together: store → peer key → mesh → enrollment → HAProxy apply path
// → heartbeats (which feed the mesh's catch-up).
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Logger } from 'pino'
import { importPublicKey } from '../proto/envelope.ts'
import { heartbeatTopic } from '../proto/mesh-peer.ts'
import { loadOrCreatePeerKey } from '../proto/peer-key-file.ts'
import { ConfigApplier } from './apply/config-applier.ts'
import type { NodeConfig } from './config.ts'
import { loadOrEnroll } from './enrollment.ts'
import { HaproxyControl } from './haproxy/haproxy-control.ts'
import { NodeHeartbeat } from './mesh/heartbeat.ts'
import { NodeMesh } from './mesh/node-mesh.ts'
import { ShieldNode } from './shield-node.ts'
import { NodeStore } from './store/node-store.ts'

export interface RunningNode {
  shield: ShieldNode
  mesh: NodeMesh
  heartbeat: NodeHeartbeat
  haproxy: HaproxyControl
  /** Stops the daemon; HAProxy keeps serving unless `stopHaproxy` is set. */
  stop: (options?: { stopHaproxy?: boolean }) => Promise<void>
}

export async function startNode (config: Readonly<NodeConfig>, logger: Logger): Promise<RunningNode> {
  const runDir = join(config.dataDir, 'haproxy')
  await mkdir(runDir, { recursive: true, mode: 0o750 })
  const store = new NodeStore(join(config.dataDir, 'db'))
  await store.open()
  let shield: ShieldNode | undefined
  const mesh = new NodeMesh({
    privateKey: await loadOrCreatePeerKey(join(config.dataDir, 'peer.key')),
    listen: [`/ip4/${config.p2pHost}/tcp/${config.p2pPort}`],
    logger: logger.child({ component: 'mesh' }),
    validate: (data, from) => shield?.validate(data, from) ?? 'ignore',
    onEnvelope: async (envelope, from) => { await shield?.receive(envelope, from) },
    syncSource: async (request) => await shield?.syncSource(request) ?? [],
    haveVersion: () => shield?.version ?? 0
  })
  await mesh.start()
  const selfPeerId = mesh.libp2p.peerId.toString()
  const enrollment = await loadOrEnroll({
    path: join(config.dataDir, 'enrollment.json'),
    coordinatorUrl: config.coordinatorUrl,
    token: config.token,
    peerId: selfPeerId,
    multiaddrs: mesh.multiaddrs(),
    logger
  })
  const log = logger.child({ server: enrollment.serverId })
  const haproxy = new HaproxyControl({
    binary: config.haproxyBinary,
    configFile: join(runDir, 'haproxy.cfg'),
    masterSocket: join(runDir, 'master.sock'),
    pidFile: join(runDir, 'haproxy.pid')
  })
  const applier = new ConfigApplier({
    haproxy,
    template: await readFile(config.templateFile, 'utf8'),
    templatesDir: dirname(config.templateFile),
    serverId: enrollment.serverId,
    httpBind: config.httpBind,
    httpsBind: config.httpsBind,
    runDir,
    logger: log.child({ component: 'apply' }),
    onApplied: async (result) => {
      if (result.version > 0) await store.setApplied({ version: result.version, renderHash: result.renderHash })
      // One line per live version: operators grep it, bench/propagation times it.
      log.info({ version: result.version, reloaded: result.reloaded, durationMs: Math.round(result.durationMs) }, 'version applied')
    },
    onFailed: (version, err) => { log.error({ err, version }, 'config version not applied; previous config keeps serving') }
  })
  shield = new ShieldNode({
    enrollment,
    coordinatorKey: importPublicKey(enrollment.coordinatorPublicKey),
    store,
    applier,
    onNewVersion: (cfg) => { mesh.follow(cfg, selfPeerId, enrollment.coordinatorPeerId) },
    logger: log.child({ component: 'shield' })
  })
  await shield.resume()
  mesh.join(enrollment.accountId, enrollment.configTopic, enrollment.coordinatorPeerId, enrollment.bootstrap)
  const node = shield
  const heartbeat = new NodeHeartbeat({
    pubsub: mesh.libp2p.services.pubsub,
    topic: heartbeatTopic(enrollment.accountId),
    self: () => {
      const held = node.held
      return { serverId: enrollment.serverId, peerId: selfPeerId, appliedVersion: held.version, appliedHash: held.hash, sentAtMs: Date.now(), haproxyHealthy: true }
    },
    serverIdOf: (peerId) => mesh.serverIdOf(peerId),
    onClaim: (peerId, version) => { mesh.noteClaim(peerId, version) },
    logger: log.child({ component: 'heartbeat' }),
    intervalMs: config.heartbeatIntervalMs
  })
  heartbeat.start()
  log.info({ peer: selfPeerId, addrs: mesh.multiaddrs(), httpBind: config.httpBind, httpsBind: config.httpsBind }, 'shield node running')
  return {
    shield,
    mesh,
    heartbeat,
    haproxy,
    async stop (options = {}) {
      heartbeat.stop()
      await mesh.stop()
      await store.close()
      if (options.stopHaproxy === true) await haproxy.stop()
    }
  }
}
