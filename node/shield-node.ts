// ShieldNode: what a node does with signed versions. Every envelope, from gossip or sync,
// is verified against the pinned coordinator key, checked for account and order, made
// durable in the store, and only then handed to the apply path. An envelope signed by a
// newer coordinator key is accepted when its rotation statements chain from the pinned key
// (proto/key-rotation.ts): the new key is pinned on disk after the store and before the apply.
import type { KeyObject } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { ConfigVersion, SignedEnvelope, SyncRequest } from '../proto/codec.ts'
import { encodeEnvelope, exportPublicKey, keyIdOf } from '../proto/envelope.ts'
import { signedEnvelopeCodec } from '../proto/codec.ts'
import { verifyEnvelopeChained, type ChainedVerification } from '../proto/key-rotation.ts'
import { isLumosError } from '../proto/lumos-error.ts'
import type { ConfigApplier } from './apply/config-applier.ts'
import type { Enrollment } from './enrollment.ts'
import type { NodeStore } from './store/node-store.ts'
import type { Verdict } from './mesh/node-mesh.ts'
import { checkCandidate } from './verifier.ts'

export interface ShieldNodeInit {
  enrollment: Enrollment
  coordinatorKey: KeyObject
  /** Persists a newly pinned coordinator key (base64 SPKI) durably, e.g. in enrollment.json. */
  pinCoordinatorKey: (publicKey: string) => Promise<void>
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
  /** The pinned coordinator key; moves forward along verified key rotations. */
  private coordinatorKey: KeyObject
  /** Pin writes, in the order the keys were adopted (the last one written is the newest). */
  private pinning: Promise<void> = Promise.resolve()

  constructor (init: ShieldNodeInit) {
    this.init = init
    this.coordinatorKey = init.coordinatorKey
  }

  /** Id of the coordinator key this node verifies against. */
  get coordinatorKeyId (): string { return keyIdOf(this.coordinatorKey) }

  private open (input: Uint8Array | SignedEnvelope): ChainedVerification & { envelope: SignedEnvelope } {
    const envelope = input instanceof Uint8Array ? signedEnvelopeCodec.decode(input) : input
    return { envelope, ...verifyEnvelopeChained(envelope, this.coordinatorKey) }
  }

  /**
   * Adopts a key reached through verified rotations: in memory at once (so the gossip
   * validator follows), on disk through a serialized write the caller awaits before applying.
   */
  private async adoptKey (key: KeyObject, version: number): Promise<void> {
    const previousKeyId = this.coordinatorKeyId
    this.coordinatorKey = key
    const publicKey = exportPublicKey(key)
    const write = this.pinning.catch(() => {}).then(async () => { await this.init.pinCoordinatorKey(publicKey) })
    this.pinning = write
    await write
    this.init.logger.warn({ version, keyId: keyIdOf(key), previousKeyId }, 'coordinator key rotated; new key pinned')
  }

  get version (): number { return this.latestVersion }

  /** The newest version held and its payload hash: what this node's heartbeat announces. */
  get held (): { version: number, hash: Uint8Array } { return { version: this.latestVersion, hash: this.latestHash } }

  /** Re-applies the newest stored version (after a restart), or an empty config when none. */
  async resume (): Promise<void> {
    const latest = await this.init.store.latest()
    if (latest === undefined) {
      // A lost or re-created store must not wipe what a running HAProxy serves: keep it
      // until a version arrives through sync. Only a first start gets the empty config.
      if (await this.init.applier.isServing()) {
        this.init.logger.warn('no stored version; HAProxy keeps its running config until a version is fetched from the mesh')
        return
      }
      await this.init.applier.schedule({ accountId: this.init.enrollment.accountId, version: 0, previousHash: new Uint8Array(), issuedAtMs: 0, servers: [], domains: [], accountIpBlacklist: [], challengeKey: new Uint8Array() })
      return
    }
    const { config, hash, signerKey, rotated } = this.open(latest.envelope)
    this.latestVersion = config.version
    this.latestHash = hash
    // Stored but not pinned yet (a crash between the two): pin now, before applying.
    if (rotated) await this.adoptKey(signerKey, config.version)
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
      const { config } = this.open(data)
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
    const { envelope, config, hash, signerKey, rotated } = this.open(input)
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
    if (rotated && keyIdOf(signerKey) !== this.coordinatorKeyId) await this.adoptKey(signerKey, config.version)
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
