// Wires the coordinator together: store → signing key → mesh → versions → notifier → HTTP API.
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApi } from './api/app.ts'
import type { CoordinatorConfig } from './config.ts'
import { ConfigVersions } from './config-versions.ts'
import { CoordinatorMesh } from './mesh/coordinator-mesh.ts'
import { Notifier } from './notify/notifier.ts'
import { loadOrCreateSigningKey, publicKeyOf } from './signer.ts'
import { CoordinatorStore } from './store/store.ts'

export interface Coordinator {
  api: FastifyInstance
  mesh: CoordinatorMesh
  store: CoordinatorStore
  /** Webhook notifications: the failover engine calls notify() on it. */
  notifier: Notifier
  stop: () => Promise<void>
}

export async function startCoordinator (config: Readonly<CoordinatorConfig>, logger: Logger): Promise<Coordinator> {
  const store = new CoordinatorStore(join(config.dataDir, 'db'))
  await store.open()
  const signingKey = await loadOrCreateSigningKey(store)
  const mesh = new CoordinatorMesh({
    store,
    peerKeyPath: join(config.dataDir, 'peer.key'),
    listen: [`/ip4/${config.p2pHost}/tcp/${config.p2pPort}`],
    logger: logger.child({ component: 'mesh' }),
    heartbeatIntervalMs: config.heartbeatIntervalMs
  })
  await mesh.start()
  const versions = new ConfigVersions({
    store,
    signingKey,
    publish: async (accountId, envelope) => { await mesh.publish(accountId, envelope) },
    now: Date.now,
    logger: logger.child({ component: 'config-versions' })
  })
  const notifier = new Notifier({ store, logger: logger.child({ component: 'notifier' }) })
  await notifier.start()
  const api = await buildApi({
    store,
    versions,
    mesh: {
      peerId: mesh.libp2p.peerId.toString(),
      multiaddrs: () => mesh.multiaddrs(),
      publicKey: publicKeyOf(signingKey),
      allowPeer: (peerId) => { mesh.allowPeer(peerId) }
    },
    adminKeyHash: config.adminKeyHash,
    now: Date.now,
    logger,
    notifier
  })
  await api.listen({ host: config.httpHost, port: config.httpPort })
  logger.info({ url: `http://${config.httpHost}:${(api.server.address() as { port: number }).port}`, keyId: signingKey.keyId }, 'coordinator listening')
  return {
    api,
    mesh,
    store,
    notifier,
    async stop () {
      await api.close()
      await notifier.stop()
      await mesh.stop()
      await store.close()
    }
  }
}
