// /v1/accounts/:accountId/servers: shield servers of an account. Creating one returns its
// connection token once; the store keeps only the token's SHA-256 hash and prefix.
import type { FastifyInstance } from 'fastify'
import { isIP } from 'node:net'
import { coordinatorError } from '../errors.ts'
import { newId } from '../ids.ts'
import { PLAN_SERVER_LIMIT, type ServerRecord } from '../model.ts'
import { notFound } from './accounts.ts'
import { newSecret } from './auth.ts'
import type { ApiContext, FleetControl } from './context.ts'

const createServerSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100 },
      publicIp: { type: 'string', maxLength: 45 }
    }
  }
} as const

/** The server as API clients see it: no token hash. */
export function publicServer (server: ServerRecord): Omit<ServerRecord, 'tokenHash'> {
  const { tokenHash: _hidden, ...rest } = server
  return rest
}

/**
 * The server with its runtime status merged in: the coordinator's live view (status,
 * last seen, applied version, liveness and quorum) for enrolled, active servers. Runtime
 * status lives in the fleet state's own table, never in signed config versions.
 */
export function serverView (server: ServerRecord, fleet: FleetControl | undefined): Record<string, unknown> {
  const base = { ...publicServer(server), lastSeen: null as string | null, appliedVersion: null as number | null, agentVersion: null }
  const runtime = server.status === 'decommissioned' ? undefined : fleet?.runtime(server.accountId, server.id)
  if (runtime === undefined || fleet === undefined) return base
  return {
    ...base,
    status: runtime.status,
    lastSeen: runtime.lastSeen === null ? null : new Date(runtime.lastSeen).toISOString(),
    appliedVersion: runtime.appliedVersion,
    haproxyHealthy: runtime.haproxyHealthy,
    lastError: runtime.lastError === null ? null : { ...runtime.lastError, at: new Date(runtime.lastError.at).toISOString() },
    liveness: {
      coordinatorView: runtime.coordinatorView,
      quorum: runtime.verdict.state,
      reason: runtime.verdict.reason,
      voters: runtime.verdict.voters,
      downVotes: runtime.verdict.downVotes,
      needed: runtime.verdict.needed,
      health: runtime.health?.state ?? null,
      connections: server.peerId === '' ? 0 : fleet.connections(server.peerId)
    }
  }
}

export async function serverRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Params: { accountId: string }, Body: { name: string, publicIp?: string } }>('/v1/accounts/:accountId/servers', { schema: createServerSchema }, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const publicIp = request.body.publicIp ?? ''
    if (publicIp !== '' && isIP(publicIp) === 0) {
      throw coordinatorError('VALIDATION_FAILED', `publicIp "${publicIp}" is not an IPv4 or IPv6 address`)
    }
    const token = newSecret('lgt')
    const server = await ctx.versions.commit(account.id, async (state) => {
      const active = state.servers.filter(s => s.status !== 'decommissioned').length
      const limit = PLAN_SERVER_LIMIT[account.plan]
      if (active >= limit) {
        throw coordinatorError('PLAN_LIMIT', `plan ${account.plan} allows ${limit} server(s) and the account has ${active}; upgrade the plan or decommission a server`)
      }
      const record: ServerRecord = {
        id: newId('srv'),
        accountId: account.id,
        name: request.body.name,
        publicIp,
        status: 'pending',
        tokenHash: token.hash,
        tokenPrefix: token.prefix,
        peerId: '',
        multiaddrs: [],
        createdAt: new Date(ctx.now()).toISOString(),
        enrolledAt: null
      }
      return { ops: [{ type: 'server', value: record }, { type: 'serverToken', hash: token.hash, accountId: account.id, serverId: record.id }], result: record }
    })
    request.log.info({ account: account.id, server: server.id }, 'server created')
    return await reply.code(201).send({ server: publicServer(server), token: token.secret })
  })

  app.get<{ Params: { accountId: string } }>('/v1/accounts/:accountId/servers', async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    return { servers: (await ctx.store.listServers(account.id)).map(server => serverView(server, ctx.fleet)) }
  })

  // Decommission: a soft delete. The server stays in signed versions as `decommissioned`
  // for the grace period (its peer keeps its connections), then leaves the config and is cut
  // (coordinator/decommission-sweeper.ts). Domains are not reassigned: the answer warns.
  app.delete<{ Params: { accountId: string, serverId: string } }>('/v1/accounts/:accountId/servers/:serverId', async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const result = await ctx.versions.commit(account.id, async (state) => {
      const current = state.servers.find(s => s.id === request.params.serverId)
      if (current === undefined) throw notFound('server', request.params.serverId)
      const record: ServerRecord = current.status === 'decommissioned' ? current : { ...current, status: 'decommissioned', decommissionedAt: new Date(ctx.now()).toISOString() }
      const assigned = state.domains.filter(d => d.serverIds.includes(record.id))
      const warnings = {
        onlyOnThisServer: assigned.filter(d => d.serverIds.length === 1).map(d => d.hostname),
        primaryOf: assigned.filter(d => d.serverIds[0] === record.id && d.serverIds.length > 1).map(d => d.hostname)
      }
      return { ops: [{ type: 'server', value: record }], result: { record, warnings } }
    })
    request.log.info({ account: account.id, server: result.record.id }, 'server decommissioned')
    return { server: publicServer(result.record), warnings: result.warnings }
  })

  app.get<{ Params: { accountId: string, serverId: string } }>('/v1/accounts/:accountId/servers/:serverId', async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const server = await ctx.store.getServer(account.id, request.params.serverId)
    if (server === undefined) throw notFound('server', request.params.serverId)
    return { server: serverView(server, ctx.fleet) }
  })
}
