// Signing and verification of SignedEnvelopes with ed25519 (node:crypto). The coordinator
// signs; nodes verify against the public key they pinned at enrollment. A verified
// envelope is only authentic: account, version order and chain are checked by the caller.
// Verification is split for the gossip hot path: authenticateEnvelope (signature) and
// readConfigHeader (account and version, from the first bytes of the payload) cost well
// under a millisecond even for 10 000 domains; the full decode (decodeConfigPayload,
// hundreds of ms at that size) runs once, after the version is durable.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { configVersionCodec, signedEnvelopeCodec, type ConfigVersion, type SignedEnvelope, type SignedKeyRotation } from './codec.ts'
import { decompressConfigPayload, encodeConfigPayload, readConfigHeader as readPayloadHeader, type ConfigHeader } from './config-payload.ts'
import { LumosError } from './lumos-error.ts'

export type { ConfigHeader } from './config-payload.ts'

export interface SigningKey {
  privateKey: KeyObject
  publicKey: KeyObject
  keyId: string
}

/** Public key as base64 SPKI DER: the form pinned by nodes and shown to operators. */
export function exportPublicKey (key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).toString('base64')
}

export function importPublicKey (spkiBase64: string): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spkiBase64, 'base64'), format: 'der', type: 'spki' })
  } catch (err) {
    throw new LumosError('BAD_PUBLIC_KEY', 'the pinned coordinator key is not a valid ed25519 SPKI key; re-enroll the node', { cause: err })
  }
}

/** Key ids per key object: every envelope check asks for the pinned key's id. */
const keyIds = new WeakMap<KeyObject, string>()

export function keyIdOf (publicKey: KeyObject): string {
  let id = keyIds.get(publicKey)
  if (id === undefined) {
    id = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex').slice(0, 16)
    keyIds.set(publicKey, id)
  }
  return id
}

export function generateSigningKey (): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) }
}

export function exportSigningKey (key: SigningKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
}

export function importSigningKey (pkcs8Pem: string): SigningKey {
  const privateKey = createPrivateKey(pkcs8Pem)
  const publicKey = createPublicKey(privateKey)
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) }
}

export function payloadHash (payload: Uint8Array): Uint8Array {
  return createHash('sha256').update(payload).digest()
}

/** Signs a version; `keyRotations` (oldest first) let nodes pinned to earlier keys follow (proto/key-rotation.ts). */
export function signConfigVersion (config: ConfigVersion, key: SigningKey, keyRotations: SignedKeyRotation[] = []): SignedEnvelope {
  return signEncodedConfig(configVersionCodec.encode(config), key, keyRotations)
}

/** signConfigVersion for already encoded ConfigVersion bytes (the coordinator reuses each domain's encoding between versions). */
export function signEncodedConfig (raw: Uint8Array, key: SigningKey, keyRotations: SignedKeyRotation[] = []): SignedEnvelope {
  const { payload, encoding } = encodeConfigPayload(raw)
  return { payload, signature: sign(null, payload, key.privateKey), keyId: key.keyId, payloadEncoding: encoding, keyRotations }
}

/**
 * The full ConfigVersion of an authenticated envelope; `decode` turns the payload's bytes into
 * it (a ConfigDecoder's, proto/config-decoder.ts, to reuse the previous version's domains).
 * Throws MALFORMED_MESSAGE.
 */
export function decodeConfigPayload (envelope: SignedEnvelope, decode: (bytes: Uint8Array) => ConfigVersion = configVersionCodec.decode): ConfigVersion {
  return decode(decompressConfigPayload(envelope.payload, envelope.payloadEncoding))
}

/**
 * account_id and version of an authenticated envelope's payload, read from its first bytes
 * (proto/config-payload.ts); check decodeConfigPayload agrees before applying. Throws MALFORMED_MESSAGE.
 */
export function readConfigHeader (envelope: SignedEnvelope): ConfigHeader {
  return readPayloadHeader(envelope.payload, envelope.payloadEncoding)
}

export function encodeEnvelope (envelope: SignedEnvelope): Uint8Array {
  return signedEnvelopeCodec.encode(envelope)
}

/**
 * Decodes wire bytes into an envelope and its ConfigVersion, verifying the signature
 * against `publicKey`. Throws MALFORMED_MESSAGE, UNKNOWN_KEY or BAD_SIGNATURE.
 */
export function openEnvelope (bytes: Uint8Array, publicKey: KeyObject): { envelope: SignedEnvelope, config: ConfigVersion, hash: Uint8Array } {
  const envelope = signedEnvelopeCodec.decode(bytes)
  return { envelope, ...verifyEnvelope(envelope, publicKey) }
}

/** authenticateEnvelope, then the full decode. */
export function verifyEnvelope (envelope: SignedEnvelope, publicKey: KeyObject): { config: ConfigVersion, hash: Uint8Array } {
  const { hash } = authenticateEnvelope(envelope, publicKey)
  return { config: decodeConfigPayload(envelope), hash }
}

/** Checks key id and signature only (the payload is not decoded). Throws UNKNOWN_KEY or BAD_SIGNATURE. */
export function authenticateEnvelope (envelope: SignedEnvelope, publicKey: KeyObject): { hash: Uint8Array } {
  if (envelope.keyId !== keyIdOf(publicKey)) {
    throw new LumosError('UNKNOWN_KEY', `envelope signed by key ${envelope.keyId}, which is not the pinned coordinator key`)
  }
  if (envelope.signature.length !== 64 || !verify(null, envelope.payload, publicKey, envelope.signature)) {
    throw new LumosError('BAD_SIGNATURE', 'envelope signature does not verify against the pinned coordinator key')
  }
  return { hash: payloadHash(envelope.payload) }
}
