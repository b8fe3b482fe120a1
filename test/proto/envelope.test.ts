import t from 'tap'
import { withDomainDefaults } from '../../proto/domain-settings.ts'
import { signedEnvelopeCodec, type ConfigVersion } from '../../proto/codec.ts'
import { encodeEnvelope, generateSigningKey, openEnvelope, payloadHash, signConfigVersion } from '../../proto/envelope.ts'

const key = generateSigningKey()

const config: ConfigVersion = {
  accountId: 'acc_000000000001',
  version: 7,
  previousHash: new Uint8Array(32).fill(1),
  issuedAtMs: 1_700_000_000_000,
  servers: [{ id: 'srv_a', name: 'EU Frankfurt', peerId: '', multiaddrs: [], publicIp: '203.0.113.10', status: 'pending' }],
  domains: [withDomainDefaults({ id: 'dom_a', hostname: 'shop.example.com', aliases: ['www.shop.example.com'], serverIds: ['srv_a'], origins: [{ address: '10.0.0.5', port: 8080, weight: 100, tls: false }] })],
  accountIpBlacklist: ['198.51.100.0/24'],
  challengeKey: new Uint8Array(32).fill(9)
}

function signedBytes (): Uint8Array {
  return encodeEnvelope(signConfigVersion(config, key))
}

t.test('a signed envelope opens with the signer public key and yields the same config', async t => {
  const opened = openEnvelope(signedBytes(), key.publicKey)
  t.same(opened.config, config)
  t.equal(opened.envelope.keyId, key.keyId)
  t.same(opened.hash, payloadHash(opened.envelope.payload))
})

t.test('a payload changed after signing is rejected with BAD_SIGNATURE', async t => {
  const envelope = signConfigVersion(config, key)
  const payload = Uint8Array.from(envelope.payload)
  payload[payload.length - 1] = (payload[payload.length - 1] as number) ^ 0x01
  const tampered = encodeEnvelope({ ...envelope, payload })
  t.throws(() => openEnvelope(tampered, key.publicKey), { code: 'BAD_SIGNATURE' })
})

t.test('an envelope signed by another key is rejected with UNKNOWN_KEY', async t => {
  const otherKey = generateSigningKey()
  t.throws(() => openEnvelope(signedBytes(), otherKey.publicKey), { code: 'UNKNOWN_KEY' })
})

t.test('an envelope that claims the pinned key id but was signed by another key is rejected with BAD_SIGNATURE', async t => {
  const forged = { ...signConfigVersion(config, generateSigningKey()), keyId: key.keyId }
  t.throws(() => openEnvelope(encodeEnvelope(forged), key.publicKey), { code: 'BAD_SIGNATURE' })
})

t.test('truncated envelope bytes are rejected with MALFORMED_MESSAGE', async t => {
  const bytes = signedBytes()
  t.throws(() => openEnvelope(bytes.subarray(0, bytes.length - 10), key.publicKey), { code: 'MALFORMED_MESSAGE' })
})

t.test('garbage bytes are rejected with MALFORMED_MESSAGE', async t => {
  t.throws(() => openEnvelope(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), key.publicKey), { code: 'MALFORMED_MESSAGE' })
})

t.test('a correctly signed payload that is not a ConfigVersion is rejected with MALFORMED_MESSAGE', async t => {
  const { sign } = await import('node:crypto')
  const payload = Uint8Array.from([0x0a, 0xff, 0x01])
  const bytes = signedEnvelopeCodec.encode({ payload, signature: sign(null, payload, key.privateKey), keyId: key.keyId, payloadEncoding: '' })
  t.throws(() => openEnvelope(bytes, key.publicKey), { code: 'MALFORMED_MESSAGE' })
})

t.test('a large config is sent zstd-compressed and opens to the same config', async t => {
  const { largeConfig } = await import('../../bench/envelope-size.ts')
  const big = largeConfig(20, 2000)
  const envelope = signConfigVersion(big, key)
  t.equal(envelope.payloadEncoding, 'zstd')
  const raw = (await import('../../proto/codec.ts')).configVersionCodec.encode(big)
  t.ok(envelope.payload.length * 5 < raw.length, `compressed ${envelope.payload.length} B vs raw ${raw.length} B`)
  t.same(openEnvelope(encodeEnvelope(envelope), key.publicKey).config, big)
})

t.test('an unknown payload encoding or a corrupt compressed payload is MALFORMED_MESSAGE, even when signed', async t => {
  const { sign } = await import('node:crypto')
  const payload = Uint8Array.from([1, 2, 3, 4, 5])
  for (const payloadEncoding of ['zz', 'br', 'zstd']) {
    const bytes = signedEnvelopeCodec.encode({ payload, signature: sign(null, payload, key.privateKey), keyId: key.keyId, payloadEncoding })
    t.throws(() => openEnvelope(bytes, key.publicKey), { code: 'MALFORMED_MESSAGE' }, payloadEncoding)
  }
})

t.test('the header of a payload names the same account and version as its full decode, raw or compressed', async t => {
  const { readConfigHeader, authenticateEnvelope } = await import('../../proto/envelope.ts')
  const { largeConfig } = await import('../../bench/envelope-size.ts')
  const cases = [config, { ...largeConfig(20, 3000), version: 2 ** 40 + 3 }]
  for (const value of cases) {
    const envelope = signConfigVersion(value, key)
    t.same(authenticateEnvelope(envelope, key.publicKey).hash, payloadHash(envelope.payload), `authentic (${envelope.payloadEncoding || 'raw'})`)
    t.same(readConfigHeader(envelope), { accountId: value.accountId, version: value.version }, `header (${envelope.payloadEncoding || 'raw'})`)
  }
})

t.test('a header that cannot be read is MALFORMED_MESSAGE', async t => {
  const { readConfigHeader } = await import('../../proto/envelope.ts')
  for (const payloadEncoding of ['zz', 'br', 'zstd', '']) {
    t.throws(() => readConfigHeader({ payload: Uint8Array.from([0x0a, 0x7f, 1, 2]), signature: new Uint8Array(64), keyId: key.keyId, payloadEncoding }), { code: 'MALFORMED_MESSAGE' }, payloadEncoding || 'raw')
  }
})
