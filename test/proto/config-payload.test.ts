// How a ConfigVersion's bytes travel in an envelope: raw when small, zstd with a copy of its
// first bytes in front (read without decompressing) when large, brotli still readable.
import t from 'tap'
import { brotliCompressSync, zstdCompressSync } from 'node:zlib'
import { configVersionCodec } from '../../proto/codec.ts'
import { COMPRESS_ABOVE_BYTES, decompressConfigPayload, encodeConfigPayload, MAX_CONFIG_BYTES, readConfigHeader } from '../../proto/config-payload.ts'
import { splitSkippableFrame } from '../../proto/zstd-frame.ts'
import { largeConfig } from '../../bench/envelope-size.ts'

const big = { ...largeConfig(20, 2000), version: 2 ** 40 + 3 }
const raw = configVersionCodec.encode(big)

t.test('a small config travels raw, a large one zstd-compressed, and both come back', async t => {
  const small = configVersionCodec.encode({ ...largeConfig(1, 1), version: 5 })
  t.ok(small.length <= COMPRESS_ABOVE_BYTES, 'precondition: the small config is under the threshold')
  t.same(encodeConfigPayload(small), { payload: small, encoding: '' })
  t.same(readConfigHeader(small, ''), { accountId: 'acc_bench0000001', version: 5 })

  const { payload, encoding } = encodeConfigPayload(raw)
  t.equal(encoding, 'zstd')
  t.ok(payload.length * 5 < raw.length, `compressed ${payload.length} B vs raw ${raw.length} B`)
  t.same(decompressConfigPayload(payload, encoding), raw, 'the same bytes come back')
  t.same(readConfigHeader(payload, encoding), { accountId: big.accountId, version: big.version })
})

t.test('the header of a zstd payload is read from the copy in front, without decompressing', async t => {
  const { payload } = encodeConfigPayload(raw)
  const { data: copy, rest: frame } = splitSkippableFrame(payload)
  t.ok(copy !== undefined && copy.length < 200, 'a short copy of the first bytes is in front')
  // The frame cut short: decompressing fails, the header read does not need it.
  const cut = payload.subarray(0, payload.length - frame.length + 20)
  t.throws(() => decompressConfigPayload(cut, 'zstd'), { code: 'MALFORMED_MESSAGE' }, 'precondition: the cut frame does not decompress')
  t.same(readConfigHeader(cut, 'zstd'), { accountId: big.accountId, version: big.version })
})

t.test('a zstd payload without the copy still gives its header, from the whole frame', async t => {
  t.same(readConfigHeader(zstdCompressSync(raw), 'zstd'), { accountId: big.accountId, version: big.version })
})

t.test('a brotli payload, as coordinators signed before zstd, decompresses and gives its header', async t => {
  const payload = brotliCompressSync(raw)
  t.same(decompressConfigPayload(payload, 'br'), raw)
  t.same(readConfigHeader(payload, 'br'), { accountId: big.accountId, version: big.version })
})

t.test('unknown encodings, corrupt payloads and decompression bombs are MALFORMED_MESSAGE', async t => {
  const junk = Uint8Array.from([0x0a, 0x7f, 1, 2])
  for (const encoding of ['zz', 'br', 'zstd']) {
    t.throws(() => decompressConfigPayload(junk, encoding), { code: 'MALFORMED_MESSAGE' }, `decompress ${encoding}`)
    t.throws(() => readConfigHeader(junk, encoding), { code: 'MALFORMED_MESSAGE' }, `header ${encoding}`)
  }
  t.throws(() => readConfigHeader(junk, ''), { code: 'MALFORMED_MESSAGE' }, 'header raw')
  const bomb = zstdCompressSync(Buffer.alloc(MAX_CONFIG_BYTES + 1))
  t.throws(() => decompressConfigPayload(bomb, 'zstd'), { code: 'MALFORMED_MESSAGE', message: /cannot decompress/ }, 'more than the bound')
})
