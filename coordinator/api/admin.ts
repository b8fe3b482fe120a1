// /v1/admin: fleet-wide operations that need the admin key. POST rotate-signing-key
// replaces the coordinator's signing key (coordinator/signer.ts) and at once issues a new
// version of every account, signed by the new key and carrying the rotation statements,
// so every node pins the new key without waiting for a change.
import type { FastifyInstance } from 'fastify'
import type { KeyRotationResult } from '../signer.ts'
import type { ApiContext } from './context.ts'

export interface KeyRotator {
  rotate: (issuedAtMs: number) => Promise<KeyRotationResult>
}

/** Issues a new, otherwise unchanged version of every account that has one: signed by the current key. */
export async function reissueVersions (ctx: Pick<ApiContext, 'store' | 'versions'>): Promise<Array<{ accountId: string, version: number }>> {
  const issued: Array<{ accountId: string, version: number }> = []
  for (const account of await ctx.store.listAccounts()) {
    if (await ctx.store.getHead(account.id) === undefined) continue
    const version = await ctx.versions.commit(account.id, async () => ({ ops: [], result: undefined }))
      .then(async () => (await ctx.store.getHead(account.id))?.version ?? 0)
    issued.push({ accountId: account.id, version })
  }
  return issued
}

export async function adminRoutes (app: FastifyInstance, ctx: ApiContext, signer: KeyRotator): Promise<void> {
  app.post('/v1/admin/rotate-signing-key', async (request) => {
    await ctx.auth.requireAdmin(request)
    const rotation = await signer.rotate(ctx.now())
    request.log.warn({ keyId: rotation.keyId, previousKeyId: rotation.previousKeyId }, 'coordinator signing key rotated')
    const versions = await reissueVersions(ctx)
    return { keyId: rotation.keyId, previousKeyId: rotation.previousKeyId, publicKey: rotation.publicKey, issuedAtMs: rotation.issuedAtMs, versions }
  })
}
