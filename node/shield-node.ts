// ShieldNode: what a node does with signed versions. Every envelope, from gossip or sync,
// is verified against the pinned coordinator key, checked for account and order, written
// to the store (node/store/node-store.ts says when it is fsynced), and only then handed to
// the apply path. An envelope signed by a newer coordinator key is accepted when its
// rotation statements chain from the pinned key (proto/key-rotation.ts): the new key is
// pinned on disk after the store and before the apply.
// Hot path (bench/gossip): the gossip validator checks the signature and reads account and
// version from the payload's first bytes; receive() reuses that verification, stores the
// envelope as received, and only then decodes the full ConfigVersion, once, for the apply.
import type { KeyObject } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { ConfigVersion, SignedEnvelope, SyncRequest } from '../proto/codec.ts'
import { decodeConfigPayload, encodeEnvelope, exportPublicKey, keyIdOf, readConfigHeader, type ConfigHeader } from '../proto/envelope.ts'
import { signedEnvelopeCodec } from '../proto/codec.ts'
import { ConfigDecoder } from '../proto/config-decoder.ts'
import { authenticateEnvelopeChained, verifyEnvelopeChained, type ChainedAuthentication } from '../proto/key-rotation.ts'
import { isLumosError, LumosError } from '../proto/lumos-error.ts'
import type { ConfigApplier } from './apply/config-applier.ts'
import type { Enrollment } from './enrollment.ts'
import { LateCopies } from './late-copies.ts'
import { KEEP_VERSIONS, type NodeStore } from './store/node-store.ts'
import type { Verdict } from './mesh/node-mesh.ts'
import { checkCandidate } from './verifier.ts'

export interface ShieldNodeInit {
  enrollment: Enrollment
  coordinatorKey: KeyObject
  /** Persists a newly pinned coordinator key (base64 SPKI) durably, e.g. in enrollment.json. */
  pinCoordinatorKey: (publicKey: string) => Promise<void>
  store: NodeStore
  applier: Pick<ConfigApplier, 'schedule' | 'isServing'>
  /** Called with each newly stored and decoded version (e.g. to update the mesh allow-list). */
  onNewVersion: (config: ConfigVersion) => void
  /**
   * Delivery milestones of a version newer than the held one, for metrics and bench/gossip:
   * it first passed verification (gossip validator or sync), then it is durable.
   */
  onVerified?: (version: number, from: string, via: 'gossip' | 'sync') => void
  onStored?: (version: number, from: string) => void
  /** How long an older version may still come from an honest peer (LATE_COPY_WINDOW_MS when omitted). */
  lateCopyWindowMs?: number
  logger: Logger
}

/** An envelope whose signature verified, with the account and version its payload names. */
interface Authenticated extends ChainedAuthentication {
  envelope: SignedEnvelope
  header: ConfigHeader
}

/** Messages the gossip validator accepted and receive() has not taken yet (bounded). */
const ACCEPTED_KEPT = 4

export class ShieldNode {
  private readonly init: ShieldNodeInit
  private latestVersion = 0
  /** sha256 of the latest version's payload; empty while none is held. */
  private latestHash: Uint8Array = new Uint8Array()
  /** The pinned coordinator key; moves forward along verified key rotations. */
  private coordinatorKey: KeyObject
  /** Pin writes, in the order the keys were adopted (the last one written is the newest). */
  private pinning: Promise<void> = Promise.resolve()
  /** The newest version being stored and decoded (≥ latestVersion): copies of it are not processed twice. */
  private receiving = 0
  /** Verified by the gossip validator, handed to receive() by the same bytes: verified once. */
  private readonly accepted: Array<{ bytes: Uint8Array, opened: Authenticated }> = []
  /** Reuses the previous version's decoded domains (and with them the renderer's per-domain output). */
  private readonly decoder = new ConfigDecoder()
  private readonly lateCopies: LateCopies

  constructor (init: ShieldNodeInit) {
    this.init = init
    this.lateCopies = new LateCopies(init.lateCopyWindowMs)
    this.coordinatorKey = init.coordinatorKey
  }

  /** Id of the coordinator key this node verifies against. */
  get coordinatorKeyId (): string { return keyIdOf(this.coordinatorKey) }

  /** Signature (chained) and header only: cheap whatever the payload size. */
  private authenticate (input: Uint8Array | SignedEnvelope): Authenticated {
    const envelope = input instanceof Uint8Array ? signedEnvelopeCodec.decode(input) : input
    const authenticated = authenticateEnvelopeChained(envelope, this.coordinatorKey)
    return { envelope, ...authenticated, header: readConfigHeader(envelope) }
  }

  /** The validator's verification of exactly these bytes, if it has not been taken yet. */
  private takeAccepted (bytes: Uint8Array): Authenticated | undefined {
    const index = this.accepted.findIndex(e => e.bytes === bytes || Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength).equals(bytes))
    return index < 0 ? undefined : this.accepted.splice(index, 1)[0]?.opened
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

  /**
   * Re-applies the newest stored version that opens (after a restart), or an empty config
   * when none. A stored version that does not decode (stored before its full decode failed,
   * e.g. from a newer coordinator) is skipped for the one before it.
   */
  async resume (): Promise<void> {
    const latest = await this.init.store.latest()
    const opened = latest === undefined ? undefined : await this.openStored(latest.version, latest.envelope)
    if (opened === undefined) {
      // A lost or re-created store must not wipe what a running HAProxy serves: keep it
      // until a version arrives through sync. Only a first start gets the empty config.
      if (await this.init.applier.isServing()) {
        this.init.logger.warn('no stored version; HAProxy keeps its running config until a version is fetched from the mesh')
        return
      }
      await this.init.applier.schedule({ accountId: this.init.enrollment.accountId, version: 0, previousHash: new Uint8Array(), issuedAtMs: 0, servers: [], domains: [], accountIpBlacklist: [], challengeKey: new Uint8Array() })
      return
    }
    const { config, hash, signerKey, rotated } = opened
    this.latestVersion = config.version
    this.receiving = config.version
    this.latestHash = hash
    // Stored but not pinned yet (a crash between the two): pin now, before applying.
    if (rotated) await this.adoptKey(signerKey, config.version)
    this.init.logger.info({ version: config.version }, 'resuming from stored version')
    this.init.onNewVersion(config)
    await this.init.applier.schedule(config)
  }

  private async openStored (newest: number, newestBytes: Uint8Array): Promise<ReturnType<typeof verifyEnvelopeChained> | undefined> {
    for (let version = newest; version > newest - KEEP_VERSIONS && version > 0; version--) {
      const bytes = version === newest ? newestBytes : await this.init.store.getVersion(version)
      if (bytes === undefined) continue
      try {
        return verifyEnvelopeChained(signedEnvelopeCodec.decode(bytes), this.coordinatorKey)
      } catch (err) {
        if (!isLumosError(err) || err.code !== 'MALFORMED_MESSAGE') throw err
        this.init.logger.error({ err, version }, 'stored config version does not decode; trying the one before')
      }
    }
    return undefined
  }

  /**
   * Gossip validator: synchronous, so it uses the in-memory latest version.
   * 'ignore' for a copy of the version we hold or are storing (a duplicate is no fault of
   * the sender) and for a late copy of one superseded moments ago (node/late-copies.ts);
   * anything unsigned, for another account or older than that (a replay) is 'reject':
   * gossipsub drops it, does not forward it, and reports it to peer scoring.
   */
  validate (data: Uint8Array, from: PeerId): Verdict {
    try {
      const opened = this.authenticate(data)
      const { accountId, version } = opened.header
      if (accountId === this.init.enrollment.accountId) {
        if (version >= this.latestVersion && version <= this.receiving) return 'ignore'
        if (this.lateCopies.isLate(version, this.latestVersion)) {
          this.init.logger.debug({ version, peer: from.toString(), held: this.latestVersion }, 'late copy of a superseded version ignored')
          return 'ignore'
        }
      }
      checkCandidate(opened.header, this.init.enrollment.accountId, this.latestVersion)
      this.accepted.push({ bytes: data, opened })
      if (this.accepted.length > ACCEPTED_KEPT) this.accepted.shift()
      this.init.onVerified?.(version, from.toString(), 'gossip')
      return 'accept'
    } catch (err) {
      const code = isLumosError(err) ? err.code : 'UNKNOWN'
      this.init.logger.warn({ peer: from.toString(), code, reason: (err as Error).message }, 'gossip message rejected')
      return 'reject'
    }
  }

  /**
   * Verifies (or takes the validator's verification of the same bytes), persists, decodes
   * and applies one envelope; stale ones and copies of one being stored are dropped quietly.
   */
  async receive (input: Uint8Array | SignedEnvelope, from: string): Promise<void> {
    const bytes = input instanceof Uint8Array ? input : undefined
    const validated = bytes === undefined ? undefined : this.takeAccepted(bytes)
    const opened = validated ?? this.authenticate(input)
    const { header, envelope } = opened
    try {
      checkCandidate(header, this.init.enrollment.accountId, Math.max(this.latestVersion, this.receiving))
    } catch (err) {
      if (isLumosError(err) && err.code === 'STALE_VERSION') return
      throw err
    }
    const version = header.version
    if (validated === undefined) this.init.onVerified?.(version, from, bytes === undefined ? 'sync' : 'gossip')
    this.receiving = version
    try {
      const pinsNewKey = opened.rotated && keyIdOf(opened.signerKey) !== this.coordinatorKeyId
      // A version that moves the pinned key is fsynced before the pin: the pin must never outlive it.
      await this.init.store.putVersion(version, bytes ?? encodeEnvelope(envelope), { durable: pinsNewKey })
      this.init.onStored?.(version, from)
      this.init.logger.info({ version, peer: from, fsynced: pinsNewKey }, 'config version received and stored')
      const config = decodeConfigPayload(envelope, this.decoder.decode.bind(this.decoder))
      if (config.accountId !== header.accountId || config.version !== version) {
        throw new LumosError('MALFORMED_MESSAGE', `config payload names account ${config.accountId} version ${config.version}, its header ${header.accountId} version ${version}`)
      }
      if (version <= this.latestVersion) return
      this.lateCopies.superseded(this.latestVersion)
      this.latestVersion = version
      this.latestHash = opened.hash
      if (pinsNewKey) await this.adoptKey(opened.signerKey, version)
      this.init.onNewVersion(config)
      await this.init.applier.schedule(config)
    } finally {
      // Failed before it was held: a later copy (gossip or sync) may try again.
      if (this.receiving === version && this.latestVersion < version) this.receiving = this.latestVersion
    }
  }

  /** Answers /lumos/sync/1: the newest stored version when it is newer than the asker's. */
  async syncSource (request: SyncRequest): Promise<Uint8Array[]> {
    if (request.accountId !== this.init.enrollment.accountId) return []
    const latest = await this.init.store.latest()
    return latest !== undefined && latest.version > request.haveVersion ? [latest.envelope] : []
  }
}
