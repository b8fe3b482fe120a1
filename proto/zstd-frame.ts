// What a zstd frame header says (RFC 8878, 3.1.1), read without decompressing: where the
// frame's first block ends and how many bytes the frame decompresses to.

const ZSTD_MAGIC = 0xfd2fb528

export interface ZstdFrameHeader {
  /** Offset of the first block's 3-byte header. */
  blockStart: number
  /** Frame_Content_Size, when the frame declares it (one-shot compression does). */
  contentSize: number | undefined
}

const byteAt = (bytes: Uint8Array, i: number): number => bytes[i] ?? 0

/** Little-endian unsigned integer of `length` bytes at `start` (up to 8: exact below 2^53). */
function readUnsigned (bytes: Uint8Array, start: number, length: number): number {
  let value = 0
  for (let i = length - 1; i >= 0; i--) value = value * 256 + byteAt(bytes, start + i)
  return value
}

/** undefined when `payload` does not start with a whole zstd frame header. */
export function readZstdFrameHeader (payload: Uint8Array): ZstdFrameHeader | undefined {
  if (payload.length < 6 || readUnsigned(payload, 0, 4) !== ZSTD_MAGIC) return undefined
  const descriptor = byteAt(payload, 4)
  const singleSegment = (descriptor & 0x20) !== 0
  const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6] ?? 0
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3] ?? 0
  const contentSizeStart = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes
  const blockStart = contentSizeStart + contentSizeBytes
  if (blockStart > payload.length) return undefined
  // A 2-byte size is stored minus 256.
  const contentSize = contentSizeBytes === 0 ? undefined : readUnsigned(payload, contentSizeStart, contentSizeBytes) + (contentSizeBytes === 2 ? 256 : 0)
  return { blockStart, contentSize }
}

/**
 * Where the frame's first block ends: the shortest prefix zstd decompresses to anything
 * (it gives no output before a block is whole). The payload's length when it cannot tell.
 */
export function zstdFirstBlockEnd (payload: Uint8Array): number {
  const header = readZstdFrameHeader(payload)
  if (header === undefined || header.blockStart + 3 > payload.length) return payload.length
  const blockHeader = readUnsigned(payload, header.blockStart, 3)
  const rleBlock = ((blockHeader >> 1) & 3) === 1
  return Math.min(payload.length, header.blockStart + 3 + (rleBlock ? 1 : blockHeader >>> 3))
}
