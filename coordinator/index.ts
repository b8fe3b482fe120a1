// Wires the coordinator together: store → signing key → mesh → versions → notifier → fleet
// state → failover engine (when a Cloudflare token is set) → HTTP API.
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApi } from './api/app.ts'
import type { CoordinatorConfig } from './config.ts'
import { ConfigVersions } from './config-versions.ts'
import { CloudflareDns } from './dns/cloudflare-dns.ts'
import { QUORUM_LAN } from './failover/constants.ts'
import { FailoverEngine } from './failover/failover-engine.ts'
import { FailoverEventLog } from './failover/failover-events.ts'
import { FleetState } from './fleet/fleet-state.ts'
import { CoordinatorMesh } from './mesh/coordinator-mesh.ts'
import { LAN } from '../node/liveness/constants.ts'
import { Notifier } from './notify/notifier.ts'
import { DecommissionSweeper, DEFAULT_DECOMMISSION_GRACE_MS } from './decommission-sweeper.ts'
import { CoordinatorSigner } from './signer.ts'
import { CoordinatorStore } from './store/store.ts'

export interface Coordinator {
  api: FastifyInstance
  mesh: CoordinatorMesh
  store: CoordinatorStore
  /** Webhook notifications: the failover engine calls notify() on it. */
  notifier: Notifier
  /** The coordinator's live view of every server (liveness, quorum, statuses). */
  fleet: FleetState
  /** DNS failover; undefined when no Cloudflare token is configured. */
  failover: FailoverEngine | undefined
  stop: () => Promise<void>
}

export async function startCoordinator (config: Readonly<CoordinatorConfig>, logger: Logger): Promise<Coordinator> {
  const store = new CoordinatorStore(join(config.dataDir, 'db'))
  await store.open()
  const signer = await CoordinatorSigner.load(store)
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
    signingKey: signer,
    publish: async (accountId, envelope) => { await mesh.publish(accountId, envelope) },
    now: Date.now,
    logger: logger.child({ component: 'config-versions' })
  })
  const notifier = new Notifier({ store, logger: logger.child({ component: 'notifier' }) })
  await notifier.start()
  const notify = async (accountId: string, event: Parameters<Notifier['notify']>[1]): Promise<void> => { await notifier.notify(accountId, event) }
  let failover: FailoverEngine | undefined
  const fleet = new FleetState({
    store,
    mesh: {
      pubsub: mesh.libp2p.services.pubsub,
      peerId: mesh.libp2p.peerId.toString(),
      onAccount: (listener) => { mesh.onAccount(listener) },
      isPartitioned: (peerId) => mesh.isPartitioned(peerId),
      probe: async (peerId, signal) => await mesh.probe(peerId, signal)
    },
    liveness: config.liveness ?? LAN,
    quorum: config.quorum ?? QUORUM_LAN,
    notify,
    logger: logger.child({ component: 'fleet' }),
    onChange: () => { failover?.trigger() }
  })
  fleet.start()
  if (config.failover === undefined) {
    logger.warn('DNS failover disabled: LUMOS_CLOUDFLARE_TOKEN is not set (servers are still watched and server_down is still sent)')
  } else {
    failover = new FailoverEngine({
      store,
      dns: new CloudflareDns({ apiToken: config.failover.cloudflareToken, baseURL: config.failover.cloudflareBaseUrl, logger: logger.child({ component: 'dns' }) }),
      fleet,
      notify,
      holdDownMs: config.failover.holdDownMs,
      logger: logger.child({ component: 'failover' })
    })
    await failover.start()
    logger.info({ holdDownMs: config.failover.holdDownMs, liveness: (config.liveness ?? LAN).name }, 'DNS failover enabled')
  }
  const events = failover?.events ?? new FailoverEventLog(store)
  const api = await buildApi({
    store,
    versions,
    mesh: {
      peerId: mesh.libp2p.peerId.toString(),
      multiaddrs: () => mesh.multiaddrs(),
      // A getter: after a key rotation, newly enrolled nodes pin the new key.
      get publicKey () { return signer.publicKey },
      admitPeer: async (accountId, peerId) => {
        mesh.allowPeer(peerId)
        await fleet.rosterChanged(accountId)
      }
    },
    adminKeyHash: config.adminKeyHash,
    now: Date.now,
    logger,
    notifier,
    signer,
    fleet: {
      runtime: (accountId, serverId) => fleet.runtime(accountId, serverId),
      connections: (peerId) => mesh.connectionCount(peerId),
      partition: async (accountId, serverId, ms) => {
        const peerId = fleet.peerOf(accountId, serverId)
        if (peerId === undefined) return undefined
        await mesh.partition(peerId, ms)
        return { peerId, until: Date.now() + ms }
      }
    },
    failover: {
      events: async (accountId, limit, domainId) => await events.list(accountId, limit, domainId),
      drill: failover === undefined ? undefined : (domain, ms) => (failover as FailoverEngine).drill(domain, ms)
    }
  })
  const sweeper = new DecommissionSweeper({
    store,
    versions,
    graceMs: config.decommissionGraceS === undefined ? DEFAULT_DECOMMISSION_GRACE_MS : config.decommissionGraceS * 1000,
    now: Date.now,
    cutPeer: (peerId) => { mesh.denyPeer(peerId).catch(err => { logger.warn({ err, peer: peerId }, 'hanging up a cut peer failed') }) },
    logger: logger.child({ component: 'decommission' })
  })
  sweeper.start()
  await api.listen({ host: config.httpHost, port: config.httpPort })
  logger.info({ url: `http://${config.httpHost}:${(api.server.address() as { port: number }).port}`, keyId: signer.keyId }, 'coordinator listening')
  return {
    api,
    mesh,
    store,
    notifier,
    fleet,
    failover,
    async stop () {
      sweeper.stop()
      await api.close()
      await failover?.stop()
      fleet.stop()
      await notifier.stop()
      await mesh.stop()
      await store.close()
    }
  }
}
