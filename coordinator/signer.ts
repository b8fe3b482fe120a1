// The coordinator's ed25519 signing key: created on first start, kept in the store, and
// used to sign every config version. Its public key is what nodes pin at enrollment.
// rotate() replaces it: the new key and a statement signed by the old key are stored in one
// batch, and from then on every envelope carries all statements (bounded) so nodes pinned
// to an older key can follow (proto/key-rotation.ts, docs/decisions/006-key-rotation.md).
import type { ConfigVersion, SignedEnvelope, SignedKeyRotation } from '../proto/codec.ts'
import { signedKeyRotationCodec } from '../proto/codec.ts'
import { exportPublicKey, exportSigningKey, generateSigningKey, importSigningKey, signConfigVersion, signEncodedConfig, type SigningKey } from '../proto/envelope.ts'
import { MAX_KEY_ROTATIONS, signKeyRotation } from '../proto/key-rotation.ts'
import type { CoordinatorStore } from './store/store.ts'

export async function loadOrCreateSigningKey (store: CoordinatorStore): Promise<SigningKey> {
  const pem = await store.getSigningKeyPem()
  if (pem !== undefined) return importSigningKey(pem)
  const key = generateSigningKey()
  await store.write([{ type: 'signingKey', pem: exportSigningKey(key) }])
  return key
}

export function publicKeyOf (key: SigningKey): string {
  return exportPublicKey(key.publicKey)
}

export interface KeyRotationResult {
  keyId: string
  previousKeyId: string
  /** base64 SPKI DER of the new key: what newly enrolled nodes pin. */
  publicKey: string
  issuedAtMs: number
}

/** Signs config versions with the current key; the only holder of the private key. */
export class CoordinatorSigner {
  private readonly store: CoordinatorStore
  private key: SigningKey
  private rotations: SignedKeyRotation[]
  private rotating: Promise<unknown> = Promise.resolve()

  private constructor (store: CoordinatorStore, key: SigningKey, rotations: SignedKeyRotation[]) {
    this.store = store
    this.key = key
    this.rotations = rotations
  }

  static async load (store: CoordinatorStore): Promise<CoordinatorSigner> {
    const key = await loadOrCreateSigningKey(store)
    const rotations = (await store.getKeyRotations()).map(b64 => signedKeyRotationCodec.decode(Buffer.from(b64, 'base64')))
    return new CoordinatorSigner(store, key, rotations)
  }

  get keyId (): string { return this.key.keyId }
  get publicKey (): string { return publicKeyOf(this.key) }

  sign (config: ConfigVersion): SignedEnvelope {
    return signConfigVersion(config, this.key, this.rotations)
  }

  /** Signs an already encoded ConfigVersion (config-versions.ts reuses encoded domains). */
  signEncoded (raw: Uint8Array): SignedEnvelope {
    return signEncodedConfig(raw, this.key, this.rotations)
  }

  /**
   * Generates a new key, has the current key sign the hand-over, stores both durably and
   * only then signs with the new key. The old private key is dropped. Callers issue a new
   * version per account afterwards so nodes learn the rotation without waiting for a change.
   */
  async rotate (issuedAtMs: number): Promise<KeyRotationResult> {
    const run = this.rotating.catch(() => {}).then(async () => {
      const previous = this.key
      const next = generateSigningKey()
      const rotations = [...this.rotations, signKeyRotation(previous, next, issuedAtMs)].slice(-MAX_KEY_ROTATIONS)
      await this.store.write([{
        type: 'keyRotation',
        pem: exportSigningKey(next),
        rotations: rotations.map(r => Buffer.from(signedKeyRotationCodec.encode(r)).toString('base64'))
      }])
      this.key = next
      this.rotations = rotations
      return { keyId: next.keyId, previousKeyId: previous.keyId, publicKey: publicKeyOf(next), issuedAtMs }
    })
    this.rotating = run
    return await run
  }
}
