// /v1/accounts: accounts are created with the admin key; the answer carries the
// account's first API key, shown once (only its hash is stored).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { coordinatorError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { Account, Plan } from '../model.ts'
import { newSecret } from './auth.ts'
import type { ApiContext } from './context.ts'

const createAccountSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100 },
      plan: { type: 'string', enum: ['free', 'pro', 'enterprise'] }
    }
  }
} as const

export async function accountRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Body: { name: string, plan?: Plan } }>('/v1/accounts', { schema: createAccountSchema }, async (request, reply) => {
    await ctx.auth.requireAdmin(request)
    const account: Account = {
      id: newId('acc'),
      name: request.body.name,
      plan: request.body.plan ?? 'free',
      createdAt: new Date(ctx.now()).toISOString(),
      ipBlacklist: [],
      challengeKey: randomBytes(32).toString('base64')
    }
    const key = newSecret('lgk')
    await ctx.store.write([{ type: 'account', value: account }, { type: 'apiKey', hash: key.hash, value: { accountId: account.id, prefix: key.prefix } }])
    request.log.info({ account: account.id }, 'account created')
    const { challengeKey: _secret, ...visible } = account
    return await reply.code(201).send({ account: visible, apiKey: key.secret })
  })

  app.get<{ Params: { accountId: string } }>('/v1/accounts/:accountId', async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const head = await ctx.store.getHead(account.id)
    const { challengeKey: _secret, ...visible } = account
    return { account: visible, config: head ?? null }
  })
}

export function notFound (what: string, id: string): Error {
  return coordinatorError('NOT_FOUND', `${what} ${id} does not exist; list them with GET to find the right id`)
}
