// /v1/accounts/:accountId/channels: webhook notification channels (coordinator/notify/).
// Creating one returns its signing secret once (generated when the body has none); no
// other answer carries it. Registered only when the coordinator runs a Notifier.
import type { FastifyInstance } from 'fastify'
import { SUBSCRIBABLE_EVENTS, type SubscribableEventType } from '../notify/events.ts'
import { publicChannel } from '../notify/channels.ts'
import type { Notifier } from '../notify/notifier.ts'
import { notFound } from './accounts.ts'
import type { ApiContext } from './context.ts'

const createChannelSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      url: { type: 'string', minLength: 1, maxLength: 2048 },
      secret: { type: 'string', minLength: 16, maxLength: 256 },
      events: { type: 'array', uniqueItems: true, maxItems: SUBSCRIBABLE_EVENTS.length, items: { type: 'string', enum: SUBSCRIBABLE_EVENTS } }
    }
  }
} as const

type ChannelParams = { accountId: string, channelId: string }

export async function notificationRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  if (ctx.notifier === undefined) return
  const notifier: Notifier = ctx.notifier
  const base = '/v1/accounts/:accountId/channels'

  app.post<{ Params: { accountId: string }, Body: { url: string, secret?: string, events?: SubscribableEventType[] } }>(base, { schema: createChannelSchema }, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const channel = await notifier.createChannel(account.id, request.body)
    request.log.info({ account: account.id, channel: channel.id, events: channel.events }, 'notification channel created')
    return await reply.code(201).send({ channel: publicChannel(channel), secret: channel.secret })
  })

  app.get<{ Params: { accountId: string } }>(base, async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    return { channels: (await notifier.channels.list(account.id)).map(publicChannel) }
  })

  app.delete<{ Params: ChannelParams }>(`${base}/:channelId`, async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const channel = await notifier.channels.get(account.id, request.params.channelId)
    if (channel === undefined || !await notifier.deleteChannel(account.id, channel.id)) throw notFound('channel', request.params.channelId)
    request.log.info({ account: account.id, channel: channel.id }, 'notification channel deleted')
    return { channel: publicChannel(channel) }
  })

  app.get<{ Params: ChannelParams }>(`${base}/:channelId/deliveries`, async (request) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    if (await notifier.channels.get(account.id, request.params.channelId) === undefined) throw notFound('channel', request.params.channelId)
    return { deliveries: await notifier.channels.deliveries(account.id, request.params.channelId) }
  })

  // Queued like any notification (durable before the answer); the result shows in …/deliveries.
  app.post<{ Params: ChannelParams }>(`${base}/:channelId/test`, async (request, reply) => {
    const account = await ctx.loadAccount(request, request.params.accountId)
    const deliveryId = await notifier.sendTest(account.id, request.params.channelId)
    if (deliveryId === undefined) throw notFound('channel', request.params.channelId)
    return await reply.code(202).send({ deliveryId })
  })
}
