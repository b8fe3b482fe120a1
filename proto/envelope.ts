// Signing and verification of SignedEnvelopes with ed25519 (node:crypto). The coordinator
// signs; nodes verify against the public key they pinned at enrollment. A verified
// envelope is only authentic: account, version order and chain are checked by the caller.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { configVersionCodec, signedEnvelopeCodec, type ConfigVersion, type SignedEnvelope, type SignedKeyRotation } from './codec.ts'
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib'
import { isLumosError, LumosError } from './lumos-error.ts'

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

export function keyIdOf (publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex').slice(0, 16)
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

/** Payloads above this size are brotli-compressed: large accounts stay far below gossip limits. */
export const COMPRESS_ABOVE_BYTES = 16 * 1024
/** Bound on a decompressed payload, against decompression bombs. */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024

/** Signs a version; `keyRotations` (oldest first) let nodes pinned to earlier keys follow (proto/key-rotation.ts). */
export function signConfigVersion (config: ConfigVersion, key: SigningKey, keyRotations: SignedKeyRotation[] = []): SignedEnvelope {
  const raw = configVersionCodec.encode(config)
  const compress = raw.length > COMPRESS_ABOVE_BYTES
  const payload = compress
    ? brotliCompressSync(raw, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: raw.length } })
    : raw
  return { payload, signature: sign(null, payload, key.privateKey), keyId: key.keyId, payloadEncoding: compress ? 'br' : '', keyRotations }
}

function decodePayload (envelope: SignedEnvelope): ConfigVersion {
  if (envelope.payloadEncoding === '') return configVersionCodec.decode(envelope.payload)
  if (envelope.payloadEncoding !== 'br') throw new LumosError('MALFORMED_MESSAGE', `unknown payload encoding "${envelope.payloadEncoding}"; upgrade this node`)
  try {
    return configVersionCodec.decode(brotliDecompressSync(envelope.payload, { maxOutputLength: MAX_CONFIG_BYTES }))
  } catch (err) {
    if (isLumosError(err)) throw err
    throw new LumosError('MALFORMED_MESSAGE', `cannot decompress config payload: ${(err as Error).message}`, { cause: err })
  }
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

export function verifyEnvelope (envelope: SignedEnvelope, publicKey: KeyObject): { config: ConfigVersion, hash: Uint8Array } {
  if (envelope.keyId !== keyIdOf(publicKey)) {
    throw new LumosError('UNKNOWN_KEY', `envelope signed by key ${envelope.keyId}, which is not the pinned coordinator key`)
  }
  if (envelope.signature.length !== 64 || !verify(null, envelope.payload, publicKey, envelope.signature)) {
    throw new LumosError('BAD_SIGNATURE', 'envelope signature does not verify against the pinned coordinator key')
  }
  return { config: decodePayload(envelope), hash: payloadHash(envelope.payload) }
}
