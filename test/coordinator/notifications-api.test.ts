// The /v1/accounts/:accountId/channels routes through fastify inject(), with a running
// Notifier over the same LevelDB store and a real HTTP receiver for the test delivery.
import t from 'tap'
import type { NotificationChannel } from '../../coordinator/notify/channels.ts'
import { verifyWebhookSignature } from '../../coordinator/notify/events.ts'
import { setup } from '../fixtures/coordinator-api.ts'
import { webhookReceiver } from '../fixtures/webhook-receiver.ts'

const SECRET = 'my-own-secret-0123456789'
const withNotifier = async (t: Parameters<typeof setup>[0], maxChannels?: number) => {
  const api = await setup(t, Date.now, { notifier: { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, ...(maxChannels === undefined ? {} : { maxChannels }) } })
  const { accountId, apiKey } = await api.createAccount()
  return { ...api, accountId, apiKey, channelsUrl: `/v1/accounts/${accountId}/channels` }
}

t.test('a channel is created with its secret shown once and listed without it', async t => {
  const { call, channelsUrl, apiKey, store } = await withNotifier(t)
  const created = await call('POST', channelsUrl, apiKey, { url: 'https://hooks.example.com/lumos', secret: SECRET, events: ['server_down', 'failover_triggered'] })
  t.equal(created.status, 201)
  t.match(created.body, { channel: { id: /^chn_/, url: 'https://hooks.example.com/lumos', events: ['server_down', 'failover_triggered'] }, secret: SECRET })
  t.notOk('secret' in created.body.channel)

  const list = await call('GET', channelsUrl, apiKey)
  t.equal(list.status, 200)
  t.same(list.body, { channels: [created.body.channel] })
  t.notMatch(JSON.stringify(list.body), SECRET)
  const stored = await store.table<NotificationChannel>('notify-channels').list()
  t.equal(stored[0]?.secret, SECRET, 'the store keeps the secret: signing needs it')
})

t.test('a channel created without a secret gets a generated one and every event type', async t => {
  const { call, channelsUrl, apiKey } = await withNotifier(t)
  const created = await call('POST', channelsUrl, apiKey, { url: 'http://10.0.0.5:8080/hook' })
  t.equal(created.status, 201)
  t.match(created.body.secret, /^lgw_[\w-]{40,}$/)
  t.same(created.body.channel.events, ['server_down', 'server_error', 'failover_triggered', 'failover_recovered'])
  t.notMatch(JSON.stringify((await call('GET', channelsUrl, apiKey)).body), created.body.secret)
})

t.test('a webhook url that is not http or https is refused with 400 INVALID_WEBHOOK_URL and stores nothing', async t => {
  const { call, channelsUrl, apiKey } = await withNotifier(t)
  for (const url of ['ftp://hooks.example.com/x', 'file:///etc/passwd', 'javascript:alert(1)', '/relative/path', 'not a url']) {
    const res = await call('POST', channelsUrl, apiKey, { url })
    t.equal(res.status, 400, url)
    t.equal(res.body.code, 'INVALID_WEBHOOK_URL', url)
  }
  t.same((await call('GET', channelsUrl, apiKey)).body, { channels: [] })
})

t.test('an unknown event type, a short secret or an unknown field is refused with 400 VALIDATION_FAILED', async t => {
  const { call, channelsUrl, apiKey } = await withNotifier(t)
  for (const body of [
    { url: 'https://h.example.com', events: ['server_exploded'] },
    { url: 'https://h.example.com', events: ['test'] },
    { url: 'https://h.example.com', secret: 'short' },
    { url: 'https://h.example.com', color: 'red' }
  ]) {
    const res = await call('POST', channelsUrl, apiKey, body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.equal(res.body.code, 'VALIDATION_FAILED')
  }
})

t.test('an account past its channel limit is refused with 409 CHANNEL_LIMIT', async t => {
  const { call, channelsUrl, apiKey } = await withNotifier(t, 1)
  t.equal((await call('POST', channelsUrl, apiKey, { url: 'https://a.example.com' })).status, 201)
  const res = await call('POST', channelsUrl, apiKey, { url: 'https://b.example.com' })
  t.equal(res.status, 409)
  t.equal(res.body.code, 'CHANNEL_LIMIT')
})

t.test('a deleted channel is gone from the list and a second delete answers 404', async t => {
  const { call, channelsUrl, apiKey } = await withNotifier(t)
  const { body } = await call('POST', channelsUrl, apiKey, { url: 'https://hooks.example.com/lumos' })
  const deleted = await call('DELETE', `${channelsUrl}/${body.channel.id}`, apiKey)
  t.equal(deleted.status, 200)
  t.same(deleted.body, { channel: body.channel })
  t.same((await call('GET', channelsUrl, apiKey)).body, { channels: [] })
  const again = await call('DELETE', `${channelsUrl}/${body.channel.id}`, apiKey)
  t.equal(again.status, 404)
  t.equal(again.body.code, 'NOT_FOUND')
})

t.test('the test route sends a signed test event and its delivery shows in the log', async t => {
  const receiver = await webhookReceiver(t)
  const { call, channelsUrl, apiKey, accountId, notifier } = await withNotifier(t)
  const { body } = await call('POST', channelsUrl, apiKey, { url: receiver.url(), secret: SECRET, events: ['server_down'] })
  const sent = await call('POST', `${channelsUrl}/${body.channel.id}/test`, apiKey)
  t.equal(sent.status, 202)
  t.match(sent.body, { deliveryId: /^dlv_/ })
  await notifier?.whenIdle()

  t.equal(receiver.requests.length, 1)
  const request = receiver.requests[0]!
  t.equal(request.headers['x-lumos-event'], 'test')
  t.ok(verifyWebhookSignature(SECRET, { timestamp: request.headers['x-lumos-timestamp'] as string, signature: request.headers['x-lumos-signature'] as string }, request.body, Date.now()))
  t.match(JSON.parse(request.body), { id: sent.body.deliveryId, type: 'test', accountId, data: { channelId: body.channel.id } })
  const log = await call('GET', `${channelsUrl}/${body.channel.id}/deliveries`, apiKey)
  t.equal(log.status, 200)
  t.match(log.body, { deliveries: [{ deliveryId: sent.body.deliveryId, event: 'test', attempt: 1, outcome: 'delivered', httpStatus: 200 }] })
  t.notMatch(JSON.stringify(log.body), SECRET)
})

t.test('the routes of an unknown channel answer 404 NOT_FOUND', async t => {
  const { call, channelsUrl, apiKey } = await withNotifier(t)
  for (const [method, url] of [['POST', `${channelsUrl}/chn_000000000000/test`], ['GET', `${channelsUrl}/chn_000000000000/deliveries`]] as const) {
    const res = await call(method, url, apiKey)
    t.equal(res.status, 404, url)
    t.equal(res.body.code, 'NOT_FOUND')
  }
})

t.test("another account's key cannot read or create channels", async t => {
  const { call, channelsUrl, createAccount } = await withNotifier(t)
  const other = await createAccount()
  t.equal((await call('GET', channelsUrl, other.apiKey)).status, 403)
  t.equal((await call('POST', channelsUrl, other.apiKey, { url: 'https://hooks.example.com' })).status, 403)
})
