// Bench-only coordinator side (forked by bench/gossip/run.ts): the real CoordinatorStore
// (LevelDB), CoordinatorSigner, ConfigVersions and CoordinatorMesh, serving one account
// whose servers are the bench's node processes. Each 'change' runs ConfigVersions.commit
// exactly as the API does for a domain update (read state → build → sign → fsynced batch →
// publish) and reports when each stage ended.
import { join } from 'node:path'
import { pino } from 'pino'
import { ConfigVersions } from '../../coordinator/config-versions.ts'
import { CoordinatorMesh } from '../../coordinator/mesh/coordinator-mesh.ts'
import type { DomainRecord, ServerRecord } from '../../coordinator/model.ts'
import { CoordinatorSigner } from '../../coordinator/signer.ts'
import { CoordinatorStore, type StoreOp } from '../../coordinator/store/store.ts'
import { configTopic } from '../../proto/mesh-peer.ts'
import type { SignedEnvelope } from '../../proto/codec.ts'
import { benchDomains, BENCH_ACCOUNT_ID } from './account.ts'
import { cpuMs, nowMs, type ParentMessage, type Published, type PublisherReady, type PublisherSetup } from './protocol.ts'

const send = (message: PublisherReady | Published | { type: 'subscribers', count: number } | { type: 'cpu', ms: number }): void => { process.send?.(message) }

interface Running {
  change: () => Promise<Published>
  subscribers: () => number
  stop: () => Promise<void>
}

async function setup (msg: PublisherSetup): Promise<Running> {
  const logger = pino({ level: 'info', base: { service: 'coordinator' } }, pino.destination({ dest: join(msg.dir, 'coordinator.log'), mkdir: true }))
  const store = new CoordinatorStore(join(msg.dir, 'db'))
  await store.open()
  const accountId = BENCH_ACCOUNT_ID
  const createdAt = new Date().toISOString()
  const servers: ServerRecord[] = msg.servers.map((s, i) => ({
    id: s.id, accountId, name: `bench shield ${i}`, publicIp: `203.0.113.${i + 1}`, status: 'online', tokenHash: '', tokenPrefix: '',
    peerId: s.peerId, multiaddrs: s.multiaddrs, createdAt, enrolledAt: createdAt
  }))
  const domains: DomainRecord[] = benchDomains(msg.servers.map(s => s.id), msg.domains, msg.origins).map(d => ({ ...d, accountId, createdAt, updatedAt: createdAt }))
  const ops: StoreOp[] = [
    { type: 'account', value: { id: accountId, name: 'Gossip bench', plan: 'enterprise', createdAt, ipBlacklist: [], challengeKey: Buffer.alloc(32, 1).toString('base64') } },
    ...servers.map(value => ({ type: 'server' as const, value })),
    ...domains.map(value => ({ type: 'domain' as const, value }))
  ]
  await store.write(ops)
  const signer = await CoordinatorSigner.load(store)
  const mesh = new CoordinatorMesh({ store, peerKeyPath: join(msg.dir, 'peer.key'), listen: [msg.listen], logger: logger.child({ component: 'mesh' }) })
  await mesh.start()

  let timing: Partial<Published> = {}
  // Resolved by the publish hook: the change waits for it without spinning on the cores it is timed on.
  let publishDone = Promise.withResolvers<void>()
  const timedSign = (sign: () => SignedEnvelope): SignedEnvelope => {
    timing.signStartAt = nowMs()
    const signed = sign()
    timing.signEndAt = nowMs()
    return signed
  }
  const versions = new ConfigVersions({
    store,
    // The coordinator's own signer, timed: signEncoded takes the incremental encoding the
    // coordinator makes of each change (coordinator/config-encoding.ts).
    signingKey: {
      sign: (config) => timedSign(() => signer.sign(config)),
      signEncoded: (raw) => timedSign(() => signer.signEncoded(raw))
    },
    publish: async (id, envelope) => {
      timing.publishAt = nowMs()
      timing.envelopeBytes = envelope.length
      await mesh.publish(id, envelope)
      timing.publishDoneAt = nowMs()
      publishDone.resolve()
    },
    now: Date.now,
    logger
  })
  await versions.commit(accountId, async () => ({ ops: [], result: undefined }))
  const head = await store.getHead(accountId)
  const first = await store.getVersion(accountId, head?.version ?? 0)
  send({ type: 'ready', accountId, peerId: mesh.libp2p.peerId.toString(), multiaddrs: mesh.multiaddrs(), publicKey: signer.publicKey, topic: configTopic(accountId), version: head?.version ?? 0, envelopeBytes: first?.length ?? 0 })

  let port = 8000
  return {
    change: async () => {
      timing = {}
      publishDone = Promise.withResolvers<void>()
      const target = domains[0] as DomainRecord
      port = port === 8000 ? 8001 : 8000
      timing.acceptedAt = nowMs()
      await versions.commit(accountId, async (state) => {
        const current = state.domains.find(d => d.id === target.id) as DomainRecord
        const value = { ...current, origins: current.origins.map((o, i) => i === 0 ? { ...o, port } : o), updatedAt: new Date().toISOString() }
        return { ops: [{ type: 'domain', value }], result: undefined }
      })
      // commit resolves once durable; the publish it starts resolves a little later.
      await publishDone.promise
      const head = await store.getHead(accountId)
      return { type: 'published', version: head?.version ?? 0, ...timing } as Published
    },
    subscribers: () => mesh.libp2p.services.pubsub.getSubscribers(configTopic(accountId)).length,
    stop: async () => {
      await mesh.stop()
      await store.close()
    }
  }
}

let running: Running | undefined
process.on('message', (msg: ParentMessage) => {
  const fail = (err: unknown): void => { console.error(err); process.exit(1) }
  if (msg.type === 'setup') setup(msg).then(r => { running = r }, fail)
  else if (msg.type === 'change') running?.change().then(send, fail)
  else if (msg.type === 'cpu') send({ type: 'cpu', ms: cpuMs() })
  else if (msg.type === 'subscribers') send({ type: 'subscribers', count: running?.subscribers() ?? 0 })
  else if (msg.type === 'stop') void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(0))
})
process.on('disconnect', () => { void (running?.stop() ?? Promise.resolve()).finally(() => process.exit(0)) })
