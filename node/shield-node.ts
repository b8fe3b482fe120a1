// ShieldNode: what a node does with signed versions. Every envelope, from gossip or sync,
// is verified against the pinned coordinator key, checked for account and order, made
// durable in the store, and only then handed to the apply path.
import type { KeyObject } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { ConfigVersion, SignedEnvelope, SyncRequest } from '../proto/codec.ts'
import { encodeEnvelope, openEnvelope, verifyEnvelope } from '../proto/envelope.ts'
import { isLumosError } from '../proto/lumos-error.ts'
import type { ConfigApplier } from './apply/config-applier.ts'
import type { Enrollment } from './enrollment.ts'
import type { NodeStore } from './store/node-store.ts'
import type { Verdict } from './mesh/node-mesh.ts'
import { checkCandidate } from './verifier.ts'

export interface ShieldNodeInit {
  enrollment: Enrollment
  coordinatorKey: KeyObject
  store: NodeStore
  applier: ConfigApplier
  /** Called with each newly stored version (e.g. to update the mesh allow-list). */
  onNewVersion: (config: ConfigVersion) => void
  logger: Logger
}

export class ShieldNode {
  private readonly init: ShieldNodeInit
  private latestVersion = 0
  /** sha256 of the latest version's payload; empty while none is held. */
  private latestHash: Uint8Array = new Uint8Array()

  constructor (init: ShieldNodeInit) {
    this.init = init
  }

  get version (): number { return this.latestVersion }

  /** The newest version held and its payload hash: what this node's heartbeat announces. */
  get held (): { version: number, hash: Uint8Array } { return { version: this.latestVersion, hash: this.latestHash } }

  /** Re-applies the newest stored version (after a restart), or an empty config when none. */
  async resume (): Promise<void> {
    const latest = await this.init.store.latest()
    if (latest === undefined) {
      await this.init.applier.schedule({ accountId: this.init.enrollment.accountId, version: 0, previousHash: new Uint8Array(), issuedAtMs: 0, servers: [], domains: [], accountIpBlacklist: [], challengeKey: new Uint8Array() })
      return
    }
    const { config, hash } = openEnvelope(latest.envelope, this.init.coordinatorKey)
    this.latestVersion = config.version
    this.latestHash = hash
    this.init.logger.info({ version: config.version }, 'resuming from stored version')
    this.init.onNewVersion(config)
    await this.init.applier.schedule(config)
  }

  /**
   * Gossip validator: synchronous, so it uses the in-memory latest version.
   * 'ignore' only for a copy of the version we hold (a duplicate is no fault of the sender);
   * anything unsigned, for another account or older than what we hold (a replay) is
   * 'reject': gossipsub drops it, does not forward it, and reports it to peer scoring.
   */
  validate (data: Uint8Array, from: PeerId): Verdict {
    try {
      const { config } = openEnvelope(data, this.init.coordinatorKey)
      if (config.accountId === this.init.enrollment.accountId && config.version === this.latestVersion) return 'ignore'
      checkCandidate(config, this.init.enrollment.accountId, this.latestVersion)
      return 'accept'
    } catch (err) {
      const code = isLumosError(err) ? err.code : 'UNKNOWN'
      this.init.logger.warn({ peer: from.toString(), code, reason: (err as Error).message }, 'gossip message rejected')
      return 'reject'
    }
  }

  /** Verifies, persists and applies one envelope; stale ones are dropped quietly. */
  async receive (input: Uint8Array | SignedEnvelope, from: string): Promise<void> {
    const { envelope, config, hash } = input instanceof Uint8Array
      ? openEnvelope(input, this.init.coordinatorKey)
      : { envelope: input, ...verifyEnvelope(input, this.init.coordinatorKey) }
    try {
      checkCandidate(config, this.init.enrollment.accountId, this.latestVersion)
    } catch (err) {
      if (isLumosError(err) && err.code === 'STALE_VERSION') return
      throw err
    }
    await this.init.store.putVersion(config.version, input instanceof Uint8Array ? input : encodeEnvelope(envelope))
    if (config.version <= this.latestVersion) return
    this.latestVersion = config.version
    this.latestHash = hash
    this.init.logger.info({ version: config.version, peer: from }, 'config version received and stored')
    this.init.onNewVersion(config)
    await this.init.applier.schedule(config)
  }

  /** Answers /lumos/sync/1: the newest stored version when it is newer than the asker's. */
  async syncSource (request: SyncRequest): Promise<Uint8Array[]> {
    if (request.accountId !== this.init.enrollment.accountId) return []
    const latest = await this.init.store.latest()
    return latest !== undefined && latest.version > request.haveVersion ? [latest.envelope] : []
  }
}
