// Rotation of the coordinator signing key (docs/decisions/006-key-rotation.md). The
// coordinator signs "key <old> is replaced by key <new>" with the OLD key; every envelope
// carries all such statements (oldest first, bounded), so a node that pinned any earlier
// key walks the chain pinned → … → the envelope's key from the envelope alone. Pure: no
// clock, no disk. Only a chain that starts at the node's pinned key counts.
import { sign, verify, type KeyObject } from 'node:crypto'
import { keyRotationCodec, type KeyRotation, type SignedEnvelope, type SignedKeyRotation } from './codec.ts'
import { authenticateEnvelope, decodeConfigPayload, exportPublicKey, importPublicKey, keyIdOf, type SigningKey } from './envelope.ts'
import { LumosError } from './lumos-error.ts'
import type { ConfigVersion } from './codec.ts'

/** Domain separation: a rotation signature can never pass for a config payload signature. */
export const KEY_ROTATION_CONTEXT = Buffer.from('lumos-key-rotation/1\0')
/** Statements an envelope carries at most; a node more rotations behind must re-enroll. */
export const MAX_KEY_ROTATIONS = 16

function signedBytes (statement: Uint8Array): Buffer {
  return Buffer.concat([KEY_ROTATION_CONTEXT, statement])
}

/** The statement `oldKey` signs to hand over to `newKey`. */
export function signKeyRotation (oldKey: SigningKey, newKey: SigningKey, issuedAtMs: number): SignedKeyRotation {
  const rotation: KeyRotation = { newPublicKey: exportPublicKey(newKey.publicKey), newKeyId: newKey.keyId, oldKeyId: oldKey.keyId, issuedAtMs }
  const statement = keyRotationCodec.encode(rotation)
  return { statement, signature: sign(null, signedBytes(statement), oldKey.privateKey) }
}

/** Decodes a statement without trusting it; throws MALFORMED_MESSAGE. */
export function readKeyRotation (signed: SignedKeyRotation): KeyRotation {
  return keyRotationCodec.decode(signed.statement)
}

/**
 * Walks the rotation statements from `pinned` to the key with id `targetKeyId`. Each step
 * takes a statement naming the current key as old key and signed by it. Throws
 * UNKNOWN_KEY when no chain leads there, BAD_SIGNATURE when a statement claims to come
 * from a key of the chain but its signature does not verify, MALFORMED_MESSAGE for
 * undecodable, inconsistent or too many statements.
 */
export function followKeyRotations (pinned: KeyObject, targetKeyId: string, rotations: readonly SignedKeyRotation[]): KeyObject {
  if (rotations.length > MAX_KEY_ROTATIONS) {
    throw new LumosError('MALFORMED_MESSAGE', `envelope carries ${rotations.length} key rotations, more than the ${MAX_KEY_ROTATIONS} allowed`)
  }
  const statements = rotations.map(signed => ({ signed, rotation: readKeyRotation(signed) }))
  let current = pinned
  let currentId = keyIdOf(pinned)
  const used = new Set<number>()
  while (currentId !== targetKeyId) {
    const candidates = statements.map((s, index) => ({ ...s, index })).filter(s => s.rotation.oldKeyId === currentId && !used.has(s.index))
    if (candidates.length === 0) {
      throw new LumosError('UNKNOWN_KEY', `envelope signed by key ${targetKeyId}, and no key rotation signed by the pinned coordinator key leads to it`)
    }
    const step = candidates.find(c => c.signed.signature.length === 64 && verify(null, signedBytes(c.signed.statement), current, c.signed.signature))
    if (step === undefined) {
      throw new LumosError('BAD_SIGNATURE', `a key rotation claims to be signed by coordinator key ${currentId}, but its signature does not verify`)
    }
    const next = importPublicKey(step.rotation.newPublicKey)
    if (keyIdOf(next) !== step.rotation.newKeyId) {
      throw new LumosError('MALFORMED_MESSAGE', `key rotation names key id ${step.rotation.newKeyId} for a key whose id is ${keyIdOf(next)}`)
    }
    used.add(step.index)
    current = next
    currentId = step.rotation.newKeyId
  }
  return current
}

export interface ChainedAuthentication {
  /** sha256 of the payload. */
  hash: Uint8Array
  /** The key that signed the envelope: the pinned key, or the end of its rotation chain. */
  signerKey: KeyObject
  /** The signer is not the pinned key: the caller pins `signerKey` before applying. */
  rotated: boolean
}

export interface ChainedVerification extends ChainedAuthentication {
  config: ConfigVersion
}

/** authenticateEnvelope (signature only, payload not decoded), also accepting an envelope whose key the pinned key handed over to. */
export function authenticateEnvelopeChained (envelope: SignedEnvelope, pinned: KeyObject): ChainedAuthentication {
  const signerKey = envelope.keyId === keyIdOf(pinned) ? pinned : followKeyRotations(pinned, envelope.keyId, envelope.keyRotations ?? [])
  return { ...authenticateEnvelope(envelope, signerKey), signerKey, rotated: signerKey !== pinned }
}

/** verifyEnvelope, also accepting an envelope whose key the pinned key handed over to. */
export function verifyEnvelopeChained (envelope: SignedEnvelope, pinned: KeyObject): ChainedVerification {
  const authenticated = authenticateEnvelopeChained(envelope, pinned)
  return { ...authenticated, config: decodeConfigPayload(envelope) }
}
