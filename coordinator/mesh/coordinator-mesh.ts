// The coordinator as a peer of the mesh: publishes each account's signed versions on its
// config topic and answers /lumos/sync/1 from the store. Only enrolled servers' peers may
// connect (connection gater).
import type { Logger } from 'pino'
import { configTopic, createMeshPeer, type MeshPeer } from '../../proto/mesh-peer.ts'
import { loadOrCreatePeerKey } from '../../proto/peer-key-file.ts'
import { serveSync } from '../../proto/sync-protocol.ts'
import type { CoordinatorStore } from '../store/store.ts'

export interface CoordinatorMeshInit {
  store: CoordinatorStore
  peerKeyPath: string
  listen: string[]
  logger: Logger
}

export class CoordinatorMesh {
  private readonly init: CoordinatorMeshInit
  private readonly allowed = new Set<string>()
  private peer: MeshPeer | undefined

  constructor (init: CoordinatorMeshInit) {
    this.init = init
  }

  get libp2p (): MeshPeer {
    if (this.peer === undefined) throw new Error('coordinator mesh not started')
    return this.peer
  }

  async start (): Promise<void> {
    const { store, logger } = this.init
    for (const account of await store.listAccounts()) {
      for (const server of await store.listServers(account.id)) {
        if (server.peerId !== '' && server.status !== 'decommissioned') this.allowed.add(server.peerId)
      }
    }
    this.peer = await createMeshPeer({
      privateKey: await loadOrCreatePeerKey(this.init.peerKeyPath),
      listen: this.init.listen,
      isPeerAllowed: (peer) => this.allowed.has(peer.toString())
    })
    await serveSync(this.peer, async (request) => {
      const head = await store.getHead(request.accountId)
      if (head === undefined || head.version <= request.haveVersion) return []
      const latest = await store.getVersion(request.accountId, head.version)
      return latest === undefined ? [] : [latest]
    })
    for (const account of await store.listAccounts()) this.peer.services.pubsub.subscribe(configTopic(account.id))
    logger.info({ peer: this.peer.peerId.toString(), addrs: this.multiaddrs() }, 'coordinator joined the mesh')
  }

  allowPeer (peerId: string): void {
    this.allowed.add(peerId)
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  async publish (accountId: string, envelope: Uint8Array): Promise<void> {
    const topic = configTopic(accountId)
    const pubsub = this.libp2p.services.pubsub
    if (!pubsub.getTopics().includes(topic)) pubsub.subscribe(topic)
    const result = await pubsub.publish(topic, envelope)
    this.init.logger.debug({ account: accountId, recipients: result.recipients.length }, 'config version published')
  }

  async stop (): Promise<void> {
    await this.peer?.stop()
  }
}
