import t from 'tap'
import { zstdCompressSync } from 'node:zlib'
import { skippableFrame, splitSkippableFrame, zstdContentSize } from '../../proto/zstd-frame.ts'

/** Text that compresses like a config: repetitive, with some variety. */
function configLike (bytes: number): Buffer {
  const lines: string[] = []
  for (let i = 0, length = 0; length < bytes; i++) {
    lines.push(`site${i}.customer${i % 97}.example.com ${i * 7919 % 65535}\n`)
    length += (lines.at(-1) as string).length
  }
  return Buffer.from(lines.join('')).subarray(0, bytes)
}

t.test('a zstd frame declares its decompressed size, whatever the width of the field', async t => {
  // 1-, 2-, 4- and 8-byte size fields; the 2-byte one is stored minus 256.
  for (const size of [0, 100, 300, 70_000, 3_000_000]) {
    t.equal(zstdContentSize(zstdCompressSync(configLike(size))), size, `${size} bytes`)
  }
})

t.test('bytes that are not a whole zstd frame header declare no size', async t => {
  t.equal(zstdContentSize(Buffer.from('not a zstd frame at all')), undefined)
  t.equal(zstdContentSize(zstdCompressSync(configLike(1000)).subarray(0, 5)), undefined, 'cut inside the header')
})

t.test('a skippable frame carries its data in front of a zstd frame', async t => {
  const frame = zstdCompressSync(configLike(5000))
  const data = Buffer.from('account and version')
  const { data: carried, rest } = splitSkippableFrame(Buffer.concat([skippableFrame(data), frame]))
  t.same(carried, data, 'the data comes back')
  t.same(rest, frame, 'the zstd frame follows it')
  t.same(splitSkippableFrame(skippableFrame(new Uint8Array(0))), { data: new Uint8Array(0), rest: new Uint8Array(0) }, 'empty data')
})

t.test('without a whole skippable frame in front, everything is the rest', async t => {
  const frame = zstdCompressSync(configLike(5000))
  t.same(splitSkippableFrame(frame), { data: undefined, rest: frame }, 'a zstd frame alone')
  const cut = skippableFrame(Buffer.alloc(100)).subarray(0, 50)
  t.same(splitSkippableFrame(cut), { data: undefined, rest: cut }, 'a skippable frame shorter than it says')
  t.same(splitSkippableFrame(Buffer.alloc(4)), { data: undefined, rest: Buffer.alloc(4) }, 'fewer bytes than a frame header')
})
