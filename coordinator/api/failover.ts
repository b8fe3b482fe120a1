// Failover API: the FailoverEvent log, and the two operator drills.
// - POST …/domains/:domainId/drill {seconds}: the engine treats the domain's primary as down
//   for that long — DNS really moves to the secondary — and moves it back once the primary
//   has been healthy for the hold-down after the drill.
// - POST …/servers/:serverId/drill/partition {seconds}: the coordinator alone loses the server
//   for that long (its gater refuses the peer, open connections are closed and gossip the
//   peer originated is ignored), as in a coordinator↔server partition. The peers still see
//   the server, so the quorum must keep it up and no DNS may move: the drill proves it.
import type { FastifyInstance } from 'fastify'
import { coordinatorError } from '../errors.ts'
import { notFound } from './accounts.ts'
import type { ApiContext } from './context.ts'

const drillSchema = (max: number) => ({
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['seconds'],
    properties: { seconds: { type: 'integer', minimum: 1, maximum: max } }
  }
}) as const

const eventsSchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, domainId: { type: 'string', maxLength: 64 } }
  }
} as const

export async function failoverRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.get<{ Params: { accountId: string }, Querystring: { limit?: number, domainId?: string } }>('/v1/accounts/:accountId/failover/events', { schema: eventsSchema }, async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const events = ctx.failover === undefined ? [] : await ctx.failover.events(account.id, request.query.limit ?? 100, request.query.domainId)
    return { events }
  })

  app.post<{ Params: { accountId: string, domainId: string }, Body: { seconds: number } }>('/v1/accounts/:accountId/domains/:domainId/drill', { schema: drillSchema(3600) }, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const domain = await ctx.store.getDomain(account.id, request.params.domainId)
    if (domain === undefined) throw notFound('domain', request.params.domainId)
    const drill = ctx.failover?.drill
    if (drill === undefined) throw coordinatorError('FAILOVER_UNAVAILABLE', 'DNS failover is off on this coordinator; set LUMOS_CLOUDFLARE_TOKEN and restart it')
    const { enabled, zone, record } = domain.failover
    if (!enabled || zone === '' || record === '' || domain.serverIds.length < 2) {
      throw coordinatorError('FAILOVER_NOT_ENABLED', `domain ${domain.hostname} is not in DNS failover; PUT it with failover.enabled, a zone and a record, and at least two servers`)
    }
    const started = drill(domain, request.body.seconds * 1000)
    request.log.warn({ account: account.id, domain: domain.hostname, server: started.serverId, seconds: request.body.seconds }, 'failover drill requested')
    return await reply.code(202).send({ drill: { ...started, startedAt: new Date(started.startedAt).toISOString(), until: new Date(started.until).toISOString() } })
  })

  app.post<{ Params: { accountId: string, serverId: string }, Body: { seconds: number } }>('/v1/accounts/:accountId/servers/:serverId/drill/partition', { schema: drillSchema(600) }, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const server = await ctx.store.getServer(account.id, request.params.serverId)
    if (server === undefined) throw notFound('server', request.params.serverId)
    const cut = await ctx.fleet?.partition(account.id, server.id, request.body.seconds * 1000)
    if (cut === undefined) throw coordinatorError('SERVER_NOT_ENROLLED', `server ${server.id} has no active mesh peer; enroll its node first`)
    request.log.warn({ account: account.id, server: server.id, peer: cut.peerId, seconds: request.body.seconds }, 'partition drill requested')
    return await reply.code(202).send({ partition: { serverId: server.id, peerId: cut.peerId, until: new Date(cut.until).toISOString() } })
  })
}
