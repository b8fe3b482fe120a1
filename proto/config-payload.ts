// How a ConfigVersion's bytes travel in a signed envelope, and how a node reads whose version
// it is without opening it. Up to COMPRESS_ABOVE_BYTES the payload is the raw bytes
// (encoding ''); above, a zstd payload (encoding 'zstd'): a skippable frame holding a copy of
// the first bytes of the raw ConfigVersion (account_id and version, the fields encoders
// write first), then the zstd frame of the whole. zstd decoders pass over skippable frames
// (RFC 8878, 3.1.2). The copy is signed with the rest, and receive() checks it against the
// full decode. Encoding 'br' (brotli) is what coordinators signed before: stores hold it.
import { brotliDecompressSync, constants as zlibConstants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import protobuf from 'protobufjs'
import { isLumosError, LumosError } from './lumos-error.ts'
import { skippableFrame, splitSkippableFrame, zstdContentSize } from './zstd-frame.ts'

/** Payloads above this size are compressed: large accounts stay far below gossip limits. */
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
/** Raw bytes copied in front of a zstd payload: account_id and version with room to spare. */
const HEADER_COPY_BYTES = 128
/** Brotli prefix tried first by the header read; doubled until the header fields are complete. */
const BROTLI_HEADER_PREFIX_BYTES = 256

/** What a node checks before storing a version: whose it is and which. */
export interface ConfigHeader {
  accountId: string
  version: number
}

export function encodeConfigPayload (raw: Uint8Array): { payload: Uint8Array, encoding: string } {
  if (raw.length <= COMPRESS_ABOVE_BYTES) return { payload: raw, encoding: '' }
  const frame = zstdCompressSync(raw, { params: { [zlibConstants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } })
  return { payload: Buffer.concat([skippableFrame(raw.subarray(0, HEADER_COPY_BYTES)), frame]), encoding: 'zstd' }
}

/** The raw ConfigVersion bytes of a payload. Throws MALFORMED_MESSAGE. */
export function decompressConfigPayload (payload: Uint8Array, encoding: string): Uint8Array {
  if (encoding === '') return payload
  if (encoding === 'br') return guarded(() => brotliDecompressSync(payload, { maxOutputLength: MAX_CONFIG_BYTES }))
  if (encoding !== 'zstd') throw unknownEncoding(encoding)
  const frame = splitSkippableFrame(payload).rest
  return guarded(() => zstdDecompressSync(frame, { maxOutputLength: MAX_CONFIG_BYTES, chunkSize: outputChunkBytes(frame) }))
}

/**
 * account_id (1) and version (2) of a payload, without decompressing it: from the copy in
 * front of a zstd frame, or from a short brotli prefix. Call it on an authenticated envelope
 * only, and check the full decode agrees before applying. Throws MALFORMED_MESSAGE.
 */
export function readConfigHeader (payload: Uint8Array, encoding: string): ConfigHeader {
  if (encoding === '') return scanHeader(payload, true) as ConfigHeader
  if (encoding === 'br') return readBrotliHeader(payload)
  if (encoding !== 'zstd') throw unknownEncoding(encoding)
  const copy = splitSkippableFrame(payload).data
  const header = copy === undefined ? undefined : scanHeader(copy, false)
  // Without a copy (or with fields longer than it): from the whole frame.
  return header ?? scanHeader(decompressConfigPayload(payload, encoding), true) as ConfigHeader
}

function unknownEncoding (encoding: string): LumosError {
  return new LumosError('MALFORMED_MESSAGE', `unknown payload encoding "${encoding}"; upgrade this node`)
}

function readBrotliHeader (payload: Uint8Array): ConfigHeader {
  for (let prefix = BROTLI_HEADER_PREFIX_BYTES; ; prefix *= 2) {
    const complete = prefix >= payload.length
    const finishFlush = complete ? zlibConstants.BROTLI_OPERATION_FINISH : zlibConstants.BROTLI_OPERATION_FLUSH
    const bytes = guarded(() => brotliDecompressSync(payload.subarray(0, prefix), { maxOutputLength: MAX_CONFIG_BYTES, finishFlush }))
    const header = scanHeader(bytes, complete)
    if (header !== undefined) return header
  }
}

/**
 * The whole output in one buffer when the frame declares its size: Node's zlib otherwise
 * writes 16 KB chunks and joins them, a third of decompressing a 10 000-domain config.
 */
function outputChunkBytes (frame: Uint8Array): number | undefined {
  const declared = zstdContentSize(frame)
  return declared === undefined ? undefined : Math.min(Math.max(declared, zlibConstants.Z_MIN_CHUNK), MAX_CONFIG_BYTES)
}

function guarded (decompress: () => Uint8Array): Uint8Array {
  try {
    return decompress()
  } catch (err) {
    if (isLumosError(err)) throw err
    throw new LumosError('MALFORMED_MESSAGE', `cannot decompress config payload: ${(err as Error).message}`, { cause: err })
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
