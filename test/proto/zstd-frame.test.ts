import t from 'tap'
import { randomBytes } from 'node:crypto'
import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { readZstdFrameHeader, zstdFirstBlockEnd } from '../../proto/zstd-frame.ts'

const flushed = (prefix: Uint8Array): number => zstdDecompressSync(prefix, { finishFlush: constants.ZSTD_e_flush }).length

/** Text that compresses like a config: repetitive, with some variety. */
function configLike (bytes: number): Buffer {
  const lines: string[] = []
  for (let i = 0, length = 0; length < bytes; i++) {
    lines.push(`site${i}.customer${i % 97}.example.com ${i * 7919 % 65535}\n`)
    length += (lines.at(-1) as string).length
  }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

t.test('the frame header declares the decompressed size, whatever its field width', async t => {
  // 1-, 2-, 4- and 8-byte size fields; the 2-byte one is stored minus 256.
  for (const size of [0, 100, 300, 70_000, 3_000_000]) {
    const input = configLike(size)
    const header = readZstdFrameHeader(zstdCompressSync(input))
    t.equal(header?.contentSize, size, `${size} bytes`)
  }
})

t.test('bytes that are not a zstd frame have no header', async t => {
  t.equal(readZstdFrameHeader(Buffer.from('not a zstd frame at all')), undefined)
  t.equal(readZstdFrameHeader(zstdCompressSync(configLike(1000)).subarray(0, 5)), undefined, 'cut inside the header')
})

t.test('the first block ends where a prefix first decompresses to something', async t => {
  for (const [name, input] of [['repetitive', configLike(3_000_000)], ['random', randomBytes(400_000)], ['zeros (an RLE block)', Buffer.alloc(300_000)]] as const) {
    const frame = zstdCompressSync(input, { params: { [constants.ZSTD_c_compressionLevel]: 1 } })
    const end = zstdFirstBlockEnd(frame)
    t.ok(end < frame.length, `${name}: ${end} of ${frame.length} bytes`)
    const first = flushed(frame.subarray(0, end))
    // A raw (stored) block streams out as it comes; the others give nothing until whole.
    t.ok(flushed(frame.subarray(0, end - 1)) < first, `${name}: one byte less gives less`)
    t.ok(first > 0 && first <= 128 * 1024, `${name}: the first block gives ${first} bytes`)
    t.same(zstdDecompressSync(frame.subarray(0, end), { finishFlush: constants.ZSTD_e_flush }), input.subarray(0, first), `${name}: the input's first bytes`)
  }
})

t.test('a payload it cannot read ends at its own length', async t => {
  const junk = Buffer.from('definitely not zstd')
  t.equal(zstdFirstBlockEnd(junk), junk.length)
})
