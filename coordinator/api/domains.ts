// /v1/accounts/:accountId/domains: a domain's hostname(s), its ordered shield servers
// (first = primary) and its origins. Input is validated and normalized before anything
// is stored; a rejected request leaves the store untouched.
import type { FastifyInstance } from 'fastify'
import type { AccountState } from '../config-versions.ts'
import { coordinatorError } from '../errors.ts'
import type { LumosError } from '../../proto/lumos-error.ts'
import { newId } from '../ids.ts'
import type { DomainRecord } from '../model.ts'
import type { CoordinatorStore, StoreOp } from '../store/store.ts'
import { notFound } from './accounts.ts'
import type { ApiContext } from './context.ts'
import { domainBodySchema, normalizeDomainBody, type DomainBody } from './domain-input.ts'
import { HostnameClaims } from './hostname-claims.ts'

const domainSchema = { body: domainBodySchema }
export const MAX_IMPORT_DOMAINS = 20_000
const importSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['domains'],
    properties: { domains: { type: 'array', minItems: 1, maxItems: MAX_IMPORT_DOMAINS, items: domainBodySchema } }
  }
}

interface HostnameClaim {
  domainId: string
  names: string[]
  /** Names the domain served before this change. */
  previous: string[]
}

/**
 * Hostname ops of domains claiming `names`, after checking that no other domain serves them:
 * this account's domains through its in-memory index, other accounts' in one batched read.
 */
async function hostnameOps (store: CoordinatorStore, state: AccountState, claims: HostnameClaim[]): Promise<StoreOp[]> {
  const taken = (name: string, owner: string): LumosError =>
    coordinatorError('HOSTNAME_TAKEN', `${name} is already served by domain ${owner}; remove it there first`)
  const elsewhere: Array<{ name: string, domainId: string }> = []
  for (const { domainId, names } of claims) {
    for (const name of names) {
      const owner = state.hostnameOwner(name)
      if (owner === undefined) elsewhere.push({ name, domainId })
      else if (owner !== domainId) throw taken(name, owner)
    }
  }
  const owners = await store.getHostnames(elsewhere.map(e => e.name))
  elsewhere.forEach(({ name, domainId }, i) => {
    const owner = owners[i]
    if (owner !== undefined && owner.domainId !== domainId) throw taken(name, owner.domainId)
  })
  return claims.flatMap(({ domainId, names, previous }) => [
    ...previous.filter(name => !names.includes(name)).map(hostname => ({ type: 'hostnameRelease' as const, hostname })),
    ...names.map(hostname => ({ type: 'hostname' as const, hostname, accountId: state.accountId, domainId }))
  ])
}

function activeServers (state: AccountState): Set<string> {
  return new Set(state.servers.filter(s => s.status !== 'decommissioned').map(s => s.id))
}

function checkServers (active: Set<string>, serverIds: string[]): void {
  const unknown = serverIds.filter(id => !active.has(id))
  if (unknown.length > 0) {
    throw coordinatorError('UNKNOWN_SERVER', `server(s) ${unknown.join(', ')} are not active servers of this account; list them with GET /v1/accounts/:accountId/servers`)
  }
}

export async function domainRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  const claims = new HostnameClaims()
  app.post<{ Params: { accountId: string }, Body: DomainBody }>('/v1/accounts/:accountId/domains', { schema: domainSchema }, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const input = normalizeDomainBody(request.body)
    const domain = await claims.run([input.hostname, ...input.aliases], async () => await ctx.versions.commit(account.id, async (state) => {
      checkServers(activeServers(state), input.serverIds)
      const now = new Date(ctx.now()).toISOString()
      const record: DomainRecord = { id: newId('dom'), accountId: account.id, ...input, createdAt: now, updatedAt: now }
      const names = await hostnameOps(ctx.store, state, [{ domainId: record.id, names: [record.hostname, ...record.aliases], previous: [] }])
      return { ops: [{ type: 'domain', value: record }, ...names], result: record }
    }))
    request.log.info({ account: account.id, domain: domain.hostname }, 'domain created')
    return await reply.code(201).send({ domain })
  })

  app.put<{ Params: { accountId: string, domainId: string }, Body: DomainBody }>('/v1/accounts/:accountId/domains/:domainId', { schema: domainSchema }, async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const input = normalizeDomainBody(request.body)
    const domain = await claims.run([input.hostname, ...input.aliases], async () => await ctx.versions.commit(account.id, async (state) => {
      const existing = state.domain(request.params.domainId)
      if (existing === undefined) throw notFound('domain', request.params.domainId)
      checkServers(activeServers(state), input.serverIds)
      const record: DomainRecord = { ...existing, ...input, updatedAt: new Date(ctx.now()).toISOString() }
      const names = await hostnameOps(ctx.store, state, [{ domainId: record.id, names: [record.hostname, ...record.aliases], previous: [existing.hostname, ...existing.aliases] }])
      return { ops: [{ type: 'domain', value: record }, ...names], result: record }
    }))
    request.log.info({ account: account.id, domain: domain.hostname }, 'domain updated')
    return { domain }
  })

  // Bulk import (detected sites, migrations): all domains in one signed version, all or nothing.
  app.post<{ Params: { accountId: string }, Body: { domains: DomainBody[] } }>('/v1/accounts/:accountId/domains/import', { schema: importSchema, bodyLimit: 64 * 1024 * 1024 }, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const inputs = request.body.domains.map(normalizeDomainBody)
    const seen = new Set<string>()
    for (const name of inputs.flatMap(input => [input.hostname, ...input.aliases])) {
      if (seen.has(name)) throw coordinatorError('HOSTNAME_TAKEN', `${name} appears twice in the import; keep it on one domain`)
      seen.add(name)
    }
    const domains = await claims.run(seen, async () => await ctx.versions.commit(account.id, async (state) => {
      const now = new Date(ctx.now()).toISOString()
      const active = activeServers(state)
      const records = inputs.map((input): DomainRecord => {
        checkServers(active, input.serverIds)
        return { id: newId('dom'), accountId: account.id, ...input, createdAt: now, updatedAt: now }
      })
      const names = await hostnameOps(ctx.store, state, records.map(r => ({ domainId: r.id, names: [r.hostname, ...r.aliases], previous: [] })))
      const ops: StoreOp[] = [...records.map(value => ({ type: 'domain' as const, value })), ...names]
      return { ops, result: records }
    }))
    request.log.info({ account: account.id, count: domains.length }, 'domains imported')
    return await reply.code(201).send({ imported: domains.length, domains: domains.map(d => ({ id: d.id, hostname: d.hostname })) })
  })

  app.get<{ Params: { accountId: string } }>('/v1/accounts/:accountId/domains', async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    return { domains: await ctx.store.listDomains(account.id) }
  })

  app.get<{ Params: { accountId: string, domainId: string } }>('/v1/accounts/:accountId/domains/:domainId', async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const domain = await ctx.store.getDomain(account.id, request.params.domainId)
    if (domain === undefined) throw notFound('domain', request.params.domainId)
    return { domain }
  })
}
