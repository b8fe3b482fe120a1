// Rotation of the coordinator signing key, in process and for real (coordinator, two shield
// nodes with HAProxy): POST /v1/admin/rotate-signing-key makes every node pin the new key
// (enrollment.json rewritten) through the version issued at once; a node that was down
// across two rotations follows the chain carried by the envelope when it comes back; a
// statement forged by another key is rejected and changes nothing; the coordinator keeps
// the new key and the chain across a restart.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import t from 'tap'
import { signedEnvelopeCodec, type ConfigVersion } from '../../proto/codec.ts'
import { encodeEnvelope, generateSigningKey, importPublicKey, keyIdOf, openEnvelope, signConfigVersion } from '../../proto/envelope.ts'
import { signKeyRotation, verifyEnvelopeChained } from '../../proto/key-rotation.ts'
import { newPeerId } from '../fixtures/coordinator-api.ts'
import { InProcessFleet, waitFor, type FleetShield } from '../fixtures/in-process-fleet.ts'

const HOST = 'shop.example.com'

async function pinnedKeyId (shield: FleetShield): Promise<string> {
  const enrollment = JSON.parse(await readFile(join(shield.dataDir, 'enrollment.json'), 'utf8')) as { coordinatorPublicKey: string }
  return keyIdOf(importPublicKey(enrollment.coordinatorPublicKey))
}

t.test('nodes follow rotations of the coordinator signing key, also across two rotations while down', async t => {
  const fleet = await InProcessFleet.start(t, 2)
  const [s1, s2] = [fleet.shield(1), fleet.shield(2)]
  const serverIds = [s1.serverId, s2.serverId]
  const domain = (await fleet.call('POST', `/v1/accounts/${fleet.accountId}/domains`, {
    hostname: HOST, aliases: ['v0.shop.example.com'], servers: serverIds, origins: [{ address: '127.0.0.1', port: 9 }]
  })).domain as { id: string }
  const change = async (i: number): Promise<number> => {
    await fleet.call('PUT', `/v1/accounts/${fleet.accountId}/domains/${domain.id}`, {
      hostname: HOST, aliases: [`v${i}.shop.example.com`], servers: serverIds, origins: [{ address: '127.0.0.1', port: 9 }]
    })
    return await fleet.head()
  }
  const holds = async (index: number, version: number): Promise<void> => {
    await waitFor(`node ${index} holding version ${version}`, () => fleet.node(index).shield.version === version)
  }
  let head = await fleet.head()
  for (const i of [1, 2]) await holds(i, head)
  const firstKeyId = await pinnedKeyId(s1)
  t.equal(await pinnedKeyId(s2), firstKeyId, 'both nodes pinned the enrollment key')

  // Only the admin key may rotate.
  const other = await fleet.call('POST', '/v1/accounts', { name: 'Other Co' })
  const refused = await fleet.callRaw('POST', '/v1/admin/rotate-signing-key', undefined, other.apiKey as string)
  t.equal(refused.body.code, 'FORBIDDEN', 'an account API key cannot rotate the signing key')

  // Rotation 1: every node learns it from the version issued at once.
  const rotation = await fleet.call('POST', '/v1/admin/rotate-signing-key')
  t.equal(rotation.previousKeyId, firstKeyId, 'the answer names the retired key')
  t.not(rotation.keyId, firstKeyId, 'a new key')
  const issued = (rotation.versions as Array<{ accountId: string, version: number }>).find(v => v.accountId === fleet.accountId)
  t.equal(issued?.version, head + 1, 'a new version of the account was issued at once')
  head = issued?.version ?? 0
  for (const [i, shield] of [s1, s2].entries()) {
    await holds(i + 1, head)
    t.equal(fleet.node(i + 1).shield.coordinatorKeyId, rotation.keyId, `node ${i + 1} verifies against the new key`)
    const applied = await waitFor(`node ${i + 1} applying version ${head}`, () => {
      const index = shield.log.lines.findIndex(l => l.msg === 'version applied' && l.version === head)
      return index >= 0 ? index : undefined
    })
    const pinned = shield.log.lines.findIndex(l => l.msg === 'coordinator key rotated; new key pinned' && l.keyId === rotation.keyId && l.previousKeyId === firstKeyId)
    t.ok(pinned >= 0 && pinned < applied, `node ${i + 1} pinned the new key before applying the version`)
    t.equal(await pinnedKeyId(shield), rotation.keyId, `node ${i + 1} pinned the new key in enrollment.json`)
    const stored = shield.log.lines.filter(l => l.msg === 'config version received and stored' && l.version === head)
    t.ok(stored.length > 0 && stored.every(l => l.fsynced === true), `node ${i + 1} fsynced the rotating version before pinning its key`)
  }
  head = await change(1)
  for (const i of [1, 2]) await holds(i, head)
  t.pass('a change signed by the new key reaches both nodes')
  const plain = s1.log.lines.filter(l => l.msg === 'config version received and stored' && l.version === head)
  t.ok(plain.length > 0 && plain.every(l => l.fsynced === false), 'a version that pins no new key is not fsynced on receipt (setApplied does it)')

  // A node enrolled after the rotation pins the new key directly.
  const third = await fleet.call('POST', `/v1/accounts/${fleet.accountId}/servers`, { name: 'late shield' })
  const enrolled = await fleet.call('POST', '/v1/enroll', { token: third.token, peerId: await newPeerId(), multiaddrs: [] })
  t.equal(keyIdOf(importPublicKey(enrolled.coordinatorPublicKey as string)), rotation.keyId, 'enrollment hands out the new key')
  head = await fleet.head()
  for (const i of [1, 2]) await holds(i, head)

  // Node 2 is down across two rotations and a change; it comes back on its own.
  await fleet.stopShield(2)
  const second = await fleet.call('POST', '/v1/admin/rotate-signing-key')
  const third3 = await fleet.call('POST', '/v1/admin/rotate-signing-key')
  t.equal(third3.previousKeyId, second.keyId, 'rotations chain')
  head = await change(2)
  await holds(1, head)
  await waitFor('node 1 pinning the newest key', async () => await pinnedKeyId(s1) === third3.keyId)
  t.pass('node 1 followed both rotations')
  t.equal(await pinnedKeyId(s2), rotation.keyId, 'precondition: node 2 still pins the key of the first rotation')
  const latest = signedEnvelopeCodec.decode(await fleet.coordinator.store.getVersion(fleet.accountId, head) as Uint8Array)
  t.equal(latest.keyRotations?.length, 3, 'the newest envelope carries all three statements')
  t.throws(() => openEnvelope(encodeEnvelope(latest), importPublicKey(enrolled.coordinatorPublicKey as string)), { code: 'UNKNOWN_KEY' }, 'without the chain the key of the first rotation would not verify it')

  const mark = s2.log.lines.length
  await fleet.startShield(2)
  await holds(2, head)
  await waitFor('node 2 pinning the newest key', () => s2.log.lines.slice(mark).some(l => l.msg === 'coordinator key rotated; new key pinned'))
  t.equal(await pinnedKeyId(s2), third3.keyId, 'node 2 caught up and pinned the newest key, two rotations ahead of its own')
  t.ok(s2.log.lines.slice(mark).some(l => l.msg === 'coordinator key rotated; new key pinned' && l.keyId === third3.keyId && l.previousKeyId === rotation.keyId), 'in one step over the chain')

  // Forgeries against node 1 (pinned to the newest key): nothing changes.
  const node1 = fleet.node(1)
  const enrollmentBefore = await readFile(join(s1.dataDir, 'enrollment.json'), 'utf8')
  const genuine = verifyEnvelopeChained(latest, importPublicKey(enrolled.coordinatorPublicKey as string)).config
  const evil: ConfigVersion = { ...genuine, version: head + 1, domains: [] }
  const attacker = generateSigningKey()
  const pinnedId = third3.keyId as string
  const attacks = [
    { name: 'a rotation statement claiming the pinned key, signed by another key', code: 'BAD_SIGNATURE', bytes: encodeEnvelope(signConfigVersion(evil, attacker, [signKeyRotation({ ...attacker, keyId: pinnedId }, attacker, Date.now())])) },
    { name: 'a chain that starts at another key', code: 'UNKNOWN_KEY', bytes: encodeEnvelope(signConfigVersion(evil, attacker, [...(latest.keyRotations ?? []), signKeyRotation(generateSigningKey(), attacker, Date.now())])) },
    { name: 'a genuine version signed by the retired first key', code: 'UNKNOWN_KEY', bytes: await fleet.coordinator.store.getVersion(fleet.accountId, 1) as Uint8Array }
  ]
  const from = peerIdFromString(await newPeerId())
  for (const attack of attacks) {
    const before = s1.log.lines.length
    t.equal(node1.shield.validate(attack.bytes, from), 'reject', `${attack.name}: the gossip validator rejects it`)
    t.equal(s1.log.lines.slice(before).find(l => l.msg === 'gossip message rejected')?.code, attack.code, `${attack.name}: logged as ${attack.code}`)
    await t.rejects(node1.shield.receive(attack.bytes, from.toString()), { code: attack.code }, `${attack.name}: receiving it over sync fails too`)
  }
  t.equal(node1.shield.version, head, 'node 1 still holds the genuine head')
  t.equal(await readFile(join(s1.dataDir, 'enrollment.json'), 'utf8'), enrollmentBefore, 'and its pinned key did not move')

  // The coordinator keeps the new key and the chain across a restart.
  await fleet.coordinator.stop()
  await fleet.startCoordinator()
  head = await change(3)
  const afterRestart = signedEnvelopeCodec.decode(await fleet.coordinator.store.getVersion(fleet.accountId, head) as Uint8Array)
  t.equal(afterRestart.keyId, pinnedId, 'after a restart the coordinator signs with the newest key')
  t.equal(afterRestart.keyRotations?.length, 3, 'and still carries the chain')
  const node1Key = (JSON.parse(await readFile(join(s1.dataDir, 'enrollment.json'), 'utf8')) as { coordinatorPublicKey: string }).coordinatorPublicKey
  t.equal(verifyEnvelopeChained(afterRestart, importPublicKey(node1Key)).config.version, head, 'which verifies against the key node 1 pinned')
})
