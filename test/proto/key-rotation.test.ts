// Key rotation statements (proto/key-rotation.ts): a node pinned to any earlier coordinator
// key follows the chain carried by an envelope to the key that signed it; nothing else
// gets through — statements from other keys, forged signatures, broken or oversized chains.
import t from 'tap'
import { withDomainDefaults } from '../../proto/domain-settings.ts'
import { signedEnvelopeCodec, type ConfigVersion, type SignedKeyRotation } from '../../proto/codec.ts'
import { encodeEnvelope, generateSigningKey, keyIdOf, signConfigVersion, type SigningKey } from '../../proto/envelope.ts'
import { followKeyRotations, MAX_KEY_ROTATIONS, readKeyRotation, signKeyRotation, verifyEnvelopeChained } from '../../proto/key-rotation.ts'

const config: ConfigVersion = {
  accountId: 'acc_000000000001',
  version: 3,
  previousHash: new Uint8Array(32).fill(1),
  issuedAtMs: 1_700_000_000_000,
  servers: [],
  domains: [withDomainDefaults({ id: 'dom_a', hostname: 'shop.example.com', aliases: [], serverIds: ['srv_a'], origins: [{ address: '10.0.0.5', port: 8080, weight: 100, tls: false }] })],
  accountIpBlacklist: [],
  challengeKey: new Uint8Array(32).fill(9)
}

/** k1 → k2 → k3, each hand-over signed by the key it retires. */
function chain (): { keys: SigningKey[], rotations: SignedKeyRotation[] } {
  const keys = [generateSigningKey(), generateSigningKey(), generateSigningKey()]
  const rotations = [signKeyRotation(keys[0]!, keys[1]!, 1000), signKeyRotation(keys[1]!, keys[2]!, 2000)]
  return { keys, rotations }
}

/** Encodes and decodes, as a node receives it. */
function wire (envelope: ReturnType<typeof signConfigVersion>): ReturnType<typeof signConfigVersion> {
  return signedEnvelopeCodec.decode(encodeEnvelope(envelope))
}

t.test('a statement names the new key and the old key and survives the wire', async t => {
  const { keys, rotations } = chain()
  const statement = readKeyRotation(wire(signConfigVersion(config, keys[2]!, rotations)).keyRotations![0]!)
  t.same(statement, { newPublicKey: keys[1]!.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'), newKeyId: keys[1]!.keyId, oldKeyId: keys[0]!.keyId, issuedAtMs: 1000 })
})

t.test('an envelope without rotations decodes with an empty list and verifies against the pinned key', async t => {
  const key = generateSigningKey()
  const envelope = wire(signConfigVersion(config, key))
  t.same(envelope.keyRotations, [])
  const verified = verifyEnvelopeChained(envelope, key.publicKey)
  t.equal(verified.rotated, false)
  t.same(verified.config, config)
})

t.test('a node pinned one rotation behind follows one statement to the new key', async t => {
  const { keys, rotations } = chain()
  const envelope = wire(signConfigVersion(config, keys[1]!, rotations.slice(0, 1)))
  const verified = verifyEnvelopeChained(envelope, keys[0]!.publicKey)
  t.equal(verified.rotated, true)
  t.equal(keyIdOf(verified.signerKey), keys[1]!.keyId)
  t.same(verified.config, config)
})

t.test('a node offline across two rotations follows the whole chain from its pinned key', async t => {
  const { keys, rotations } = chain()
  const envelope = wire(signConfigVersion(config, keys[2]!, rotations))
  t.equal(keyIdOf(verifyEnvelopeChained(envelope, keys[0]!.publicKey).signerKey), keys[2]!.keyId, 'from the first key')
  t.equal(keyIdOf(verifyEnvelopeChained(envelope, keys[1]!.publicKey).signerKey), keys[2]!.keyId, 'from the middle key: earlier statements are skipped')
  t.equal(verifyEnvelopeChained(envelope, keys[2]!.publicKey).rotated, false, 'a node already on the newest key needs no statement')
})

t.test('the order of the statements does not matter', async t => {
  const { keys, rotations } = chain()
  const envelope = wire(signConfigVersion(config, keys[2]!, [...rotations].reverse()))
  t.equal(keyIdOf(verifyEnvelopeChained(envelope, keys[0]!.publicKey).signerKey), keys[2]!.keyId)
})

t.test('a missing link leaves the envelope signed by an unknown key', async t => {
  const { keys, rotations } = chain()
  const envelope = wire(signConfigVersion(config, keys[2]!, rotations.slice(1)))
  t.throws(() => verifyEnvelopeChained(envelope, keys[0]!.publicKey), { code: 'UNKNOWN_KEY' })
})

t.test('an attacker key handing over to itself is an unknown key', async t => {
  const pinned = generateSigningKey()
  const attacker = generateSigningKey()
  const attacker2 = generateSigningKey()
  const envelope = wire(signConfigVersion(config, attacker2, [signKeyRotation(attacker, attacker2, 1)]))
  t.throws(() => verifyEnvelopeChained(envelope, pinned.publicKey), { code: 'UNKNOWN_KEY' })
})

t.test('a statement that claims the pinned key as old key but is signed by another key is a bad signature', async t => {
  const pinned = generateSigningKey()
  const attacker = generateSigningKey()
  const forged = signKeyRotation({ ...attacker, keyId: pinned.keyId }, attacker, 1)
  t.equal(readKeyRotation(forged).oldKeyId, pinned.keyId, 'precondition: the statement claims the pinned key')
  const envelope = wire(signConfigVersion(config, attacker, [forged]))
  t.throws(() => verifyEnvelopeChained(envelope, pinned.publicKey), { code: 'BAD_SIGNATURE' })
})

t.test('a genuine chain does not vouch for a payload signed by another key under the new key id', async t => {
  const { keys, rotations } = chain()
  const attacker = generateSigningKey()
  const envelope = wire({ ...signConfigVersion(config, attacker, rotations), keyId: keys[2]!.keyId })
  t.throws(() => verifyEnvelopeChained(envelope, keys[0]!.publicKey), { code: 'BAD_SIGNATURE' })
})

t.test('a rotation signature cannot be replayed as a config payload signature', async t => {
  const { keys, rotations } = chain()
  const rotation = rotations[0]!
  const envelope = wire({ payload: rotation.statement, signature: rotation.signature, keyId: keys[0]!.keyId, payloadEncoding: '', keyRotations: [] })
  t.throws(() => verifyEnvelopeChained(envelope, keys[0]!.publicKey), { code: 'BAD_SIGNATURE' })
})

t.test('a statement whose key id does not match its key is malformed', async t => {
  const [oldKey, newKey, other] = [generateSigningKey(), generateSigningKey(), generateSigningKey()]
  const lying = signKeyRotation(oldKey, { ...newKey, keyId: other.keyId }, 1)
  t.throws(() => followKeyRotations(oldKey.publicKey, other.keyId, [lying]), { code: 'MALFORMED_MESSAGE' })
})

t.test(`more than ${MAX_KEY_ROTATIONS} statements are refused`, async t => {
  const keys = Array.from({ length: MAX_KEY_ROTATIONS + 2 }, () => generateSigningKey())
  const rotations = keys.slice(1).map((key, i) => signKeyRotation(keys[i]!, key, i))
  t.throws(() => followKeyRotations(keys[0]!.publicKey, keys.at(-1)!.keyId, rotations), { code: 'MALFORMED_MESSAGE' })
  t.equal(keyIdOf(followKeyRotations(keys[1]!.publicKey, keys.at(-1)!.keyId, rotations.slice(1))), keys.at(-1)!.keyId, `${MAX_KEY_ROTATIONS} are followed`)
})
