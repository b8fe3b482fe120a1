// The coordinator's ed25519 signing key: created on first start, kept in the store, and
// used to sign every config version. Its public key is what nodes pin at enrollment.
import { exportPublicKey, exportSigningKey, generateSigningKey, importSigningKey, type SigningKey } from '../proto/envelope.ts'
import type { CoordinatorStore } from './store/store.ts'

export async function loadOrCreateSigningKey (store: CoordinatorStore): Promise<SigningKey> {
  const pem = await store.getSigningKeyPem()
  if (pem !== undefined) return importSigningKey(pem)
  const key = generateSigningKey()
  await store.write([{ type: 'signingKey', pem: exportSigningKey(key) }])
  return key
}

export function publicKeyOf (key: SigningKey): string {
  return exportPublicKey(key.publicKey)
}
