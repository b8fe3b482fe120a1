// proto/mesh-noise.ts: the frame-length reader decodes like noise's and throws one shared
// RangeError; the KeyObject cipher interoperates with noise's default crypto in both
// directions, on both sides of the wasm/Node threshold, and still refuses a tampered
// frame; two real mesh peers exchange small, medium and large messages through it.
import { randomBytes } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import t from 'tap'
import { Uint8ArrayList } from 'uint8arraylist'
import { keyObjectCrypto, readFrameLength } from '../../proto/mesh-noise.ts'
import { createMeshPeer, newPeerKey } from '../../proto/mesh-peer.ts'

t.test('frame lengths: big-endian, from bytes or a list, one RangeError for short buffers', async t => {
  t.equal(readFrameLength(new Uint8Array([0x12, 0x34, 0xff])), 0x1234)
  t.equal(readFrameLength(new Uint8ArrayList(new Uint8Array([0xff]), new Uint8Array([0xfe, 0]))), 0xfffe)
  const thrown = [new Uint8Array(0), new Uint8Array([7]), new Uint8ArrayList()].map(data => {
    try { readFrameLength(data) } catch (err) { return err }
    return undefined
  })
  t.ok(thrown.every(err => err instanceof RangeError), 'short buffers throw a RangeError (what the decoder waits on)')
  t.ok(thrown[0] === thrown[1] && thrown[1] === thrown[2], 'the same instance every time: no new error and stack per frame')
})

t.test('the KeyObject cipher interoperates with noise default crypto and refuses tampering', async t => {
  const key = randomBytes(32)
  const ad = randomBytes(32)
  for (const size of [0, 100, 1199, 1200, 5000, 70_000]) {
    const nonce = randomBytes(12)
    const plaintext = randomBytes(size)
    const sealed = keyObjectCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray()
    t.same(Buffer.from(defaultCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key).subarray()), plaintext, `${size} B sealed here, opened by noise`)
    const theirs = defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key).subarray()
    t.same(Buffer.from(keyObjectCrypto.chaCha20Poly1305Decrypt(Buffer.from(theirs), nonce, ad, key).subarray()), plaintext, `${size} B sealed by noise, opened here`)
    const tampered = Buffer.from(sealed)
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    t.throws(() => keyObjectCrypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, key), `${size} B: a changed tag is refused`)
  }
})

t.test('two mesh peers exchange messages of every size through it', async t => {
  const PROTOCOL = '/lumos/test/noise/1'
  const [a, b] = await Promise.all([0, 1].map(async () => await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })))
  t.teardown(async () => { await Promise.all([a?.stop(), b?.stop()]) })
  if (a === undefined || b === undefined) throw new Error('peers not created')
  const sizes = [1, 100, 1199, 1200, 5000, 70_000, 1_000_000]
  const messages = sizes.map(size => new Uint8Array(size).map((_, i) => (i * 7 + size) % 256))
  const echoed = new Promise<Uint8Array[]>((resolve, reject) => {
    void b.handle(PROTOCOL, async (stream: Stream) => {
      const lp = lpStream(stream, { maxDataLength: 2_000_000 })
      try {
        const got: Uint8Array[] = []
        for (let i = 0; i < sizes.length; i++) got.push((await lp.read()).subarray())
        resolve(got)
      } catch (err) { reject(err as Error) }
    })
  })
  const stream = await a.dialProtocol(b.getMultiaddrs(), PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: 2_000_000 })
  for (const message of messages) await lp.write(message)
  const got = await echoed
  for (let i = 0; i < sizes.length; i++) t.equal(Buffer.compare(Buffer.from(got[i] as Uint8Array), Buffer.from(messages[i] as Uint8Array)), 0, `${sizes[i]} B arrived intact`)
  await stream.close()
})
