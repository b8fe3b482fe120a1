// Signing and verification of SignedEnvelopes with ed25519 (node:crypto). The coordinator
// signs; nodes verify against the public key they pinned at enrollment. A verified
// envelope is only authentic: account, version order and chain are checked by the caller.
// Verification is split for the gossip hot path: authenticateEnvelope (signature) and
// readConfigHeader (account and version, from the first bytes of the payload) cost well
// under a millisecond even for 10 000 domains; the full decode (decodeConfigPayload,
// hundreds of ms at that size) runs once, after the version is durable.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { configVersionCodec, signedEnvelopeCodec, type ConfigVersion, type SignedEnvelope, type SignedKeyRotation } from './codec.ts'
import { brotliDecompressSync, constants as zlibConstants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import protobuf from 'protobufjs'
import { isLumosError, LumosError } from './lumos-error.ts'
import { readZstdFrameHeader, zstdFirstBlockEnd } from './zstd-frame.ts'

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

/** Payloads above this size are zstd-compressed: large accounts stay far below gossip limits. */
export const COMPRESS_ABOVE_BYTES = 16 * 1024
/**
 * zstd level of config payloads. Every change of a large account pays the compression on the
 * coordinator's hot path and the decompression on every node (bench/gossip's largest node
 * cost). On a 10 000-domain config (2.4 MB raw), level 1 takes about 2.5 ms to compress and
 * 4 ms to decompress for 150 KB; brotli quality 2, used before, 6 and 7 ms for 190 KB.
 */
export const ZSTD_LEVEL = 1
/** Bound on a decompressed payload, against decompression bombs. */
export const MAX_CONFIG_BYTES = 64 * 1024 * 1024

interface PayloadCodec {
  /** `partial`: the payload is a prefix; return what it holds. */
  decompress: (payload: Uint8Array, partial: boolean) => Buffer
  /** The first prefix readConfigHeader decompresses. */
  headerPrefix: (payload: Uint8Array) => number
}

/**
 * Payload codecs by encoding. 'br' is what coordinators signed before zstd: node and
 * coordinator stores still hold such versions.
 */
const payloadCodecs: Record<string, PayloadCodec> = {
  zstd: {
    decompress: (payload, partial) => zstdDecompressSync(payload, {
      maxOutputLength: MAX_CONFIG_BYTES,
      finishFlush: partial ? zlibConstants.ZSTD_e_flush : zlibConstants.ZSTD_e_end,
      chunkSize: partial ? undefined : outputChunkBytes(payload)
    }),
    // A flush of a longer prefix gives every whole block in it (512 KB of a 32 KB prefix of
    // a 10 000-domain config): the header read decompresses the first block, up to 128 KB.
    headerPrefix: zstdFirstBlockEnd
  },
  br: {
    decompress: (payload, partial) => brotliDecompressSync(payload, { maxOutputLength: MAX_CONFIG_BYTES, finishFlush: partial ? zlibConstants.BROTLI_OPERATION_FLUSH : zlibConstants.BROTLI_OPERATION_FINISH }),
    headerPrefix: () => 256
  }
}

/**
 * The whole output in one buffer when the frame declares its size: Node's zlib otherwise
 * writes 16 KB chunks and joins them, a third of decompressing a 10 000-domain config.
 */
function outputChunkBytes (payload: Uint8Array): number | undefined {
  const declared = readZstdFrameHeader(payload)?.contentSize
  return declared === undefined ? undefined : Math.min(Math.max(declared, zlibConstants.Z_MIN_CHUNK), MAX_CONFIG_BYTES)
}

function payloadCodecOf (encoding: string): PayloadCodec {
  const codec = payloadCodecs[encoding]
  if (codec === undefined) throw new LumosError('MALFORMED_MESSAGE', `unknown payload encoding "${encoding}"; upgrade this node`)
  return codec
}

/** Signs a version; `keyRotations` (oldest first) let nodes pinned to earlier keys follow (proto/key-rotation.ts). */
export function signConfigVersion (config: ConfigVersion, key: SigningKey, keyRotations: SignedKeyRotation[] = []): SignedEnvelope {
  return signEncodedConfig(configVersionCodec.encode(config), key, keyRotations)
}

/** signConfigVersion for already encoded ConfigVersion bytes (the coordinator reuses each domain's encoding between versions). */
export function signEncodedConfig (raw: Uint8Array, key: SigningKey, keyRotations: SignedKeyRotation[] = []): SignedEnvelope {
  const compress = raw.length > COMPRESS_ABOVE_BYTES
  const payload = compress
    ? zstdCompressSync(raw, { params: { [zlibConstants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } })
    : raw
  return { payload, signature: sign(null, payload, key.privateKey), keyId: key.keyId, payloadEncoding: compress ? 'zstd' : '', keyRotations }
}

/**
 * The full ConfigVersion of an authenticated envelope; `decode` turns the payload's bytes into
 * it (a ConfigDecoder's, proto/config-decoder.ts, to reuse the previous version's domains).
 * Throws MALFORMED_MESSAGE.
 */
export function decodeConfigPayload (envelope: SignedEnvelope, decode: (bytes: Uint8Array) => ConfigVersion = configVersionCodec.decode): ConfigVersion {
  if (envelope.payloadEncoding === '') return decode(envelope.payload)
  const { decompress } = payloadCodecOf(envelope.payloadEncoding)
  try {
    return decode(decompress(envelope.payload, false))
  } catch (err) {
    if (isLumosError(err)) throw err
    throw new LumosError('MALFORMED_MESSAGE', `cannot decompress config payload: ${(err as Error).message}`, { cause: err })
  }
}

/** What a node checks before storing a version: whose it is and which. */
export interface ConfigHeader {
  accountId: string
  version: number
}

/**
 * Reads account_id (1) and version (2) of the payload without decoding the rest: they are
 * the first fields an encoder writes (protobuf encoders write fields in number order), so
 * a short decompressed prefix holds them (doubled until it does). Call it on an
 * authenticated envelope only, and check decodeConfigPayload agrees before applying.
 * Throws MALFORMED_MESSAGE.
 */
export function readConfigHeader (envelope: SignedEnvelope): ConfigHeader {
  const payload = envelope.payload
  if (envelope.payloadEncoding === '') return scanHeader(payload, true) as ConfigHeader
  const codec = payloadCodecOf(envelope.payloadEncoding)
  for (let prefix = codec.headerPrefix(payload); ; prefix *= 2) {
    const complete = prefix >= payload.length
    let bytes: Uint8Array
    try {
      bytes = codec.decompress(payload.subarray(0, prefix), !complete)
    } catch (err) {
      throw new LumosError('MALFORMED_MESSAGE', `cannot decompress config payload: ${(err as Error).message}`, { cause: err })
    }
    const header = scanHeader(bytes, complete)
    if (header !== undefined) return header
  }
}

/** account_id and version from encoded ConfigVersion bytes; undefined when they may lie beyond `bytes`. */
function scanHeader (bytes: Uint8Array, complete: boolean): ConfigHeader | undefined {
  const reader = protobuf.Reader.create(bytes)
  let accountId = ''
  let version = 0
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32()
      const field = tag >>> 3
      if (field > 2) return { accountId, version }
      if (field === 1 && (tag & 7) === 2) accountId = reader.string()
      else if (field === 2 && (tag & 7) === 0) version = toNumber(reader.uint64() as unknown as number | { toNumber: () => number })
      else reader.skipType(tag & 7)
    }
  } catch (err) {
    if (complete) throw new LumosError('MALFORMED_MESSAGE', `cannot decode ConfigVersion: ${(err as Error).message}`, { cause: err })
    return undefined
  }
  return complete ? { accountId, version } : undefined
}

function toNumber (value: number | { toNumber: () => number }): number {
  return typeof value === 'number' ? value : value.toNumber()
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
