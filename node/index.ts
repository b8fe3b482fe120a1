// Wires a shield node together: store → peer key → mesh → enrollment → HAProxy apply path
// → heartbeats (which feed the mesh's catch-up and the failure detector) → liveness:
// HAProxy health check, /lumos/probe/1, the failure detector and its reports.
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Logger } from 'pino'
import { importPublicKey } from '../proto/envelope.ts'
import { heartbeatTopic, reportsTopic } from '../proto/mesh-peer.ts'
import { HAPROXY_RELOAD_FAILED } from '../proto/report.ts'
import { loadOrCreatePeerKey } from '../proto/peer-key-file.ts'
import { ConfigApplier } from './apply/config-applier.ts'
import type { NodeConfig } from './config.ts'
import { loadOrEnroll, pinCoordinatorKey } from './enrollment.ts'
import { HaproxyControl } from './haproxy/haproxy-control.ts'
import { HeapRelease } from './heap-release.ts'
import { DEFAULT_LIVENESS } from './liveness/constants.ts'
import { HaproxyHealth, healthUrlOf } from './liveness/haproxy-health.ts'
import { LivenessRunner } from './liveness/liveness-runner.ts'
import { NodeHeartbeat } from './mesh/heartbeat.ts'
import { NodeMesh } from './mesh/node-mesh.ts'
import { ProbeService } from './mesh/probe-protocol.ts'
import { NodeReports } from './mesh/reports.ts'
import { ShieldNode } from './shield-node.ts'
import { openNodeStore } from './store/store-recovery.ts'

export interface RunningNode {
  shield: ShieldNode
  mesh: NodeMesh
  heartbeat: NodeHeartbeat
  haproxy: HaproxyControl
  liveness: LivenessRunner
  reports: NodeReports
  haproxyHealth: HaproxyHealth
  /** Stops the daemon; HAProxy keeps serving unless `stopHaproxy` is set. */
  stop: (options?: { stopHaproxy?: boolean }) => Promise<void>
}

export async function startNode (config: Readonly<NodeConfig>, logger: Logger): Promise<RunningNode> {
  const runDir = join(config.dataDir, 'haproxy')
  await mkdir(runDir, { recursive: true, mode: 0o750 })
  const store = await openNodeStore(join(config.dataDir, 'db'), logger)
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
  const preset = config.liveness ?? DEFAULT_LIVENESS
  // The detector never expects heartbeats more often than this fleet sends them.
  const livenessParams = { ...preset, heartbeatIntervalMs: Math.max(preset.heartbeatIntervalMs, config.heartbeatIntervalMs ?? 0) }
  const haproxyHealth = new HaproxyHealth({ url: healthUrlOf(config.httpBind), logger: log.child({ component: 'haproxy-health' }) })
  const reports = new NodeReports({
    pubsub: mesh.libp2p.services.pubsub,
    topic: reportsTopic(enrollment.accountId),
    serverId: enrollment.serverId,
    peerId: selfPeerId,
    serverIdOf: (peerId) => mesh.serverIdOf(peerId),
    logger: log.child({ component: 'reports' })
  })
  const probes = new ProbeService({ peer: mesh.libp2p, mayProbe: (peerId) => mesh.serverIdOf(peerId) !== undefined, timeoutMs: livenessParams.probeTimeoutMs, logger: log.child({ component: 'probe' }) })
  const liveness = new LivenessRunner({
    params: livenessParams,
    selfServerId: enrollment.serverId,
    probes,
    publish: async (views) => { await reports.publishObservations(views) },
    logger: log.child({ component: 'liveness' })
  })
  const heapRelease = new HeapRelease({ logger: log.child({ component: 'heap' }) })
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
      // One line per version HAProxy runs: operators grep it, bench/propagation times it.
      log.info({ version: result.version, reloaded: result.reloaded, durationMs: Math.round(result.durationMs) }, 'version applied')
      // Then the fsync of the pointer and of the versions written before it (node/store/node-store.ts).
      if (result.version > 0) await store.setApplied({ version: result.version, renderHash: result.renderHash })
      heapRelease.applied()
    },
    onFailed: (version, err) => {
      log.error({ err, version }, 'config version not applied; previous config keeps serving')
      reports.reportServerError({ type: HAPROXY_RELOAD_FAILED, message: err.message, version })
    }
  })
  shield = new ShieldNode({
    enrollment,
    coordinatorKey: importPublicKey(enrollment.coordinatorPublicKey),
    pinCoordinatorKey: async (publicKey) => { await pinCoordinatorKey(join(config.dataDir, 'enrollment.json'), enrollment, publicKey) },
    store,
    applier,
    lateCopyWindowMs: config.lateCopyWindowMs,
    onNewVersion: (cfg) => {
      mesh.follow(cfg, selfPeerId, enrollment.coordinatorPeerId)
      liveness.follow(cfg)
    },
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
      return { serverId: enrollment.serverId, peerId: selfPeerId, appliedVersion: held.version, appliedHash: held.hash, sentAtMs: Date.now(), haproxyHealthy: haproxyHealth.healthy }
    },
    serverIdOf: (peerId) => mesh.serverIdOf(peerId),
    onClaim: (peerId, version) => { mesh.noteClaim(peerId, version) },
    onHeartbeat: (peerId, beat) => { liveness.noteHeartbeat(peerId, beat.haproxyHealthy) },
    logger: log.child({ component: 'heartbeat' }),
    intervalMs: config.heartbeatIntervalMs
  })
  haproxyHealth.start()
  await probes.start()
  reports.start()
  liveness.start()
  heartbeat.start()
  log.info({ peer: selfPeerId, addrs: mesh.multiaddrs(), httpBind: config.httpBind, httpsBind: config.httpsBind }, 'shield node running')
  return {
    shield,
    mesh,
    heartbeat,
    haproxy,
    liveness,
    reports,
    haproxyHealth,
    async stop (options = {}) {
      heartbeat.stop()
      liveness.stop()
      reports.stop()
      haproxyHealth.stop()
      heapRelease.stop()
      await probes.stop().catch((err: unknown) => { log.debug({ err }, 'probe handler not unregistered') })
      await mesh.stop()
      await store.close()
      if (options.stopHaproxy === true) await haproxy.stop()
    }
  }
}
