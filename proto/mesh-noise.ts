// Noise for the mesh: @chainsafe/libp2p-noise 17 with two costs of it on Node 24 taken out.
// Both built an Error, and with it a stack trace through a deep stack, for every message
// received (perf of a 20-node bench/gossip run: 8 % of the nodes' CPU went to building
// Error objects):
// - The frame decoder asks for the next 2-byte length after each frame it consumed, and the
//   length reader throws a new RangeError when the buffer is empty (the decoder catches it
//   and waits for more bytes). Here the same RangeError instance is thrown every time.
// - Messages of 1 200 bytes and more go through Node's ChaCha20-Poly1305 with the key as raw
//   bytes, and Node checks whether a key is a KeyObject or a CryptoKey by catching the
//   TypeError of a failed private-field read: two errors per message. Here Node gets a
//   KeyObject made once per session key. Smaller messages keep noise's wasm cipher, which
//   takes bytes.
import { createSecretKey, type KeyObject } from 'node:crypto'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { defaultCrypto, nodeCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ConnectionEncrypter } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Below this size noise's default crypto uses its wasm cipher (its own threshold, crypto/index.js). */
const NODE_CIPHER_FROM_BYTES = 1200

const secretKeys = new WeakMap<Uint8Array, KeyObject>()

/** A session's key as a KeyObject, made once (the cipher state keeps the same key bytes for the session). */
function secretKey (k: Uint8Array): Uint8Array {
  let key = secretKeys.get(k)
  if (key === undefined) {
    key = createSecretKey(k)
    secretKeys.set(k, key)
  }
  // Node's cipher takes a KeyObject where noise's type says bytes.
  return key as unknown as Uint8Array
}

export const keyObjectCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    return nodeCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, secretKey(k))
  },
  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NODE_CIPHER_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    return nodeCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, secretKey(k), dst)
  }
}

const SHORT_BUFFER = new RangeError('Could not decode int16BE')

/** Noise's uint16BEDecode without a new error per call: the decoder only tests `instanceof RangeError`. */
export function readFrameLength (data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < 2) throw SHORT_BUFFER
  return 'getUint16' in data ? data.getUint16(0) : ((data[0] as number) << 8) | (data[1] as number)
}

type Secure = (connection: unknown, options?: unknown) => Promise<{ connection: unknown }>

export function meshNoise (): (components: Parameters<ReturnType<typeof noise>>[0]) => ConnectionEncrypter {
  const factory = noise({ crypto: keyObjectCrypto })
  return (components) => {
    const encrypter = factory(components)
    const methods = encrypter as unknown as Record<'secureInbound' | 'secureOutbound', Secure>
    for (const name of ['secureInbound', 'secureOutbound'] as const) {
      const secure = methods[name].bind(encrypter)
      methods[name] = async (connection, options) => {
        const secured = await secure(connection, options)
        // The encrypted stream's frame decoder (a LengthPrefixedDecoder of @libp2p/utils).
        const decoder = (secured.connection as { decoder?: { lengthDecoder?: unknown } }).decoder
        if (decoder?.lengthDecoder !== undefined) decoder.lengthDecoder = readFrameLength
        return secured
      }
    }
    return encrypter
  }
}
