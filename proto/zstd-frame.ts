// zstd framing (RFC 8878) read and written without a decoder: how many bytes a frame
// decompresses to (3.1.1), and skippable frames (3.1.2), which decoders pass over and which
// carry data of our own in front of a frame.

const ZSTD_MAGIC = 0xfd2fb528
/** Skippable frames use magic numbers 0x184D2A50 to 0x184D2A5F. */
const SKIPPABLE_MAGIC = 0x184d2a50
const SKIPPABLE_HEADER_BYTES = 8

const byteAt = (bytes: Uint8Array, i: number): number => bytes[i] ?? 0

/** Little-endian unsigned integer of `length` bytes at `start` (up to 8: exact below 2^53). */
function readUnsigned (bytes: Uint8Array, start: number, length: number): number {
  let value = 0
  for (let i = length - 1; i >= 0; i--) value = value * 256 + byteAt(bytes, start + i)
  return value
}

/**
 * Frame_Content_Size of the zstd frame at the start of `frame`: what it decompresses to, when
 * the frame declares it (one-shot compression does). undefined otherwise.
 */
export function zstdContentSize (frame: Uint8Array): number | undefined {
  if (frame.length < 6 || readUnsigned(frame, 0, 4) !== ZSTD_MAGIC) return undefined
  const descriptor = byteAt(frame, 4)
  const singleSegment = (descriptor & 0x20) !== 0
  const sizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][descriptor >> 6] ?? 0
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3] ?? 0
  const sizeStart = 5 + (singleSegment ? 0 : 1) + dictionaryIdBytes
  if (sizeBytes === 0 || sizeStart + sizeBytes > frame.length) return undefined
  // A 2-byte size is stored minus 256.
  return readUnsigned(frame, sizeStart, sizeBytes) + (sizeBytes === 2 ? 256 : 0)
}

/** A skippable frame holding `data`. */
export function skippableFrame (data: Uint8Array): Buffer {
  const frame = Buffer.alloc(SKIPPABLE_HEADER_BYTES + data.length)
  frame.writeUInt32LE(SKIPPABLE_MAGIC, 0)
  frame.writeUInt32LE(data.length, 4)
  frame.set(data, SKIPPABLE_HEADER_BYTES)
  return frame
}

/** The data of a leading skippable frame and the bytes after it; all of `bytes` as `rest` when it does not start with a whole one. */
export function splitSkippableFrame (bytes: Uint8Array): { data: Uint8Array | undefined, rest: Uint8Array } {
  if (bytes.length < SKIPPABLE_HEADER_BYTES || (readUnsigned(bytes, 0, 4) & 0xfffffff0) >>> 0 !== SKIPPABLE_MAGIC) return { data: undefined, rest: bytes }
  const end = SKIPPABLE_HEADER_BYTES + readUnsigned(bytes, 4, 4)
  if (end > bytes.length) return { data: undefined, rest: bytes }
  return { data: bytes.subarray(SKIPPABLE_HEADER_BYTES, end), rest: bytes.subarray(end) }
}
