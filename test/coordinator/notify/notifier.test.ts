// The Notifier against a real LevelDB store and a real HTTP receiver on 127.0.0.1. Backoff
// is injected (1-5 ms) so retries run at once; the restart test injects the clock.
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { verifyWebhookSignature, type WebhookPayload } from '../../../coordinator/notify/events.ts'
import { Notifier, type NotifierInit, type OutboxEntry } from '../../../coordinator/notify/notifier.ts'
import { CoordinatorStore } from '../../../coordinator/store/store.ts'
import { webhookReceiver } from '../../fixtures/webhook-receiver.ts'

const ACCOUNT = 'acc_000000000001'
const SECRET = 'a-channel-secret-of-some-length'
const FAST = { attempts: 8, baseDelayMs: 1, maxDelayMs: 5 }
const serverDown = { type: 'server_down', data: { serverId: 'srv_1', serverName: 'EU Frankfurt' } } as const

async function openStore (t: Test, dir = join(t.testdir(), 'db')): Promise<CoordinatorStore> {
  const store = new CoordinatorStore(dir)
  await store.open()
  t.teardown(async () => { await store.close().catch(() => {}) })
  return store
}

/** Polls a condition on stored state (for the tests that must stop while a retry is pending). */
async function until (condition: () => Promise<boolean>): Promise<void> {
  while (!await condition()) await new Promise(resolve => setTimeout(resolve, 5))
}

async function startNotifier (t: Test, store: CoordinatorStore, init: Partial<NotifierInit> = {}): Promise<Notifier> {
  const notifier = new Notifier({ store, logger: pino({ level: 'silent' }), retry: FAST, ...init })
  await notifier.start()
  t.teardown(async () => { await notifier.stop() })
  return notifier
}

t.test('a delivery carries the event and an HMAC-SHA256 signature of timestamp.body with the channel secret', async t => {
  const receiver = await webhookReceiver(t)
  const notifier = await startNotifier(t, await openStore(t))
  const channel = await notifier.createChannel(ACCOUNT, { url: receiver.url(), secret: SECRET })
  const [deliveryId] = await notifier.notify(ACCOUNT, serverDown)
  await notifier.whenIdle()

  t.equal(receiver.requests.length, 1)
  const { headers, body } = receiver.requests[0]!
  t.equal(headers['x-lumos-event'], 'server_down')
  t.equal(headers['x-lumos-delivery'], deliveryId)
  t.equal(headers['content-type'], 'application/json')
  const timestamp = headers['x-lumos-timestamp'] as string
  t.match(timestamp, /^\d+$/)
  const expected = createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')
  t.equal(headers['x-lumos-signature'], `sha256=${expected}`)
  t.ok(verifyWebhookSignature(SECRET, { timestamp, signature: headers['x-lumos-signature'] as string }, body, Date.now()))
  t.notOk(verifyWebhookSignature('another-secret-entirely', { timestamp, signature: headers['x-lumos-signature'] as string }, body, Date.now()), 'another secret does not verify')
  const payload = JSON.parse(body) as WebhookPayload
  t.match(payload, { id: deliveryId, type: 'server_down', accountId: ACCOUNT, data: { serverId: 'srv_1', serverName: 'EU Frankfurt' } })
  t.match(payload.createdAt, /^\d{4}-\d\d-\d\dT/)
  t.match(await notifier.channels.deliveries(ACCOUNT, channel.id), [{ deliveryId, attempt: 1, outcome: 'delivered', httpStatus: 200 }])
})

t.test('an event goes only to the channels subscribed to it', async t => {
  const receiver = await webhookReceiver(t)
  const notifier = await startNotifier(t, await openStore(t))
  await notifier.createChannel(ACCOUNT, { url: receiver.url('/down'), events: ['server_down'] })
  await notifier.createChannel(ACCOUNT, { url: receiver.url('/failover'), events: ['failover_triggered', 'failover_recovered'] })
  await notifier.createChannel(ACCOUNT, { url: receiver.url('/all') })
  await notifier.createChannel('acc_other0000001', { url: receiver.url('/other-account') })

  await notifier.notify(ACCOUNT, serverDown)
  await notifier.notify(ACCOUNT, { type: 'server_error', data: { serverId: 'srv_1', type: 'haproxy_reload_failed', message: 'no new worker' } })
  await notifier.whenIdle()

  const got = receiver.requests.map(r => `${r.path} ${r.headers['x-lumos-event'] as string}`).sort()
  t.same(got, ['/all server_down', '/all server_error', '/down server_down'])
  const error = receiver.requests.find(r => r.headers['x-lumos-event'] === 'server_error')
  t.match(JSON.parse(error?.body ?? '{}'), { data: { type: 'haproxy_reload_failed', message: 'no new worker' } })
})

t.test('an event no channel subscribes to queues nothing', async t => {
  const store = await openStore(t)
  const notifier = await startNotifier(t, store)
  await notifier.createChannel(ACCOUNT, { url: 'http://127.0.0.1:9/unused', events: ['failover_triggered'] })
  t.same(await notifier.notify(ACCOUNT, serverDown), [])
  t.same(await store.table<OutboxEntry>('notify-outbox').list(), [])
})

t.test('a receiver that fails twice then answers 2xx gets the delivery on the third attempt', async t => {
  const receiver = await webhookReceiver(t, { statuses: [500, 503] })
  const notifier = await startNotifier(t, await openStore(t))
  const channel = await notifier.createChannel(ACCOUNT, { url: receiver.url(), secret: SECRET })
  const [deliveryId] = await notifier.notify(ACCOUNT, serverDown)
  await notifier.whenIdle()

  t.equal(receiver.requests.length, 3)
  t.same(new Set(receiver.requests.map(r => r.headers['x-lumos-delivery'])), new Set([deliveryId]), 'one delivery id on every attempt')
  t.same(new Set(receiver.requests.map(r => r.body)).size, 1, 'the same body on every attempt')
  const log = await notifier.channels.deliveries(ACCOUNT, channel.id)
  t.match(log.map(a => [a.attempt, a.outcome, a.httpStatus]), [[3, 'delivered', 200], [2, 'retrying', 503], [1, 'retrying', 500]])
  t.match(log[2], { error: /500/, nextAttemptAt: /T/ })
})

t.test('a delivery still failing at the attempt bound ends as failed and leaves the outbox', async t => {
  const receiver = await webhookReceiver(t, { statuses: [500, 500, 500, 500] })
  const store = await openStore(t)
  const notifier = await startNotifier(t, store, { retry: { ...FAST, attempts: 3 } })
  const channel = await notifier.createChannel(ACCOUNT, { url: receiver.url() })
  await notifier.notify(ACCOUNT, serverDown)
  await notifier.whenIdle()

  t.equal(receiver.requests.length, 3, 'no attempt beyond the bound')
  const log = await notifier.channels.deliveries(ACCOUNT, channel.id)
  t.match(log.map(a => [a.attempt, a.outcome]), [[3, 'failed'], [2, 'retrying'], [1, 'retrying']])
  t.equal(log[0]?.nextAttemptAt, undefined)
  t.same(await store.table<OutboxEntry>('notify-outbox').list(), [])
})

t.test('an unreachable receiver and one that does not answer in time are failed attempts', async t => {
  const silent = await webhookReceiver(t, { hang: true })
  const notifier = await startNotifier(t, await openStore(t), { retry: { ...FAST, attempts: 1 }, timeoutMs: 100 })
  const refused = await notifier.createChannel(ACCOUNT, { url: 'http://127.0.0.1:9/closed-port' })
  const slow = await notifier.createChannel(ACCOUNT, { url: silent.url() })
  await notifier.notify(ACCOUNT, serverDown)
  await notifier.whenIdle()

  t.match(await notifier.channels.deliveries(ACCOUNT, refused.id), [{ outcome: 'failed', error: /ECONNREFUSED|fetch failed/ }])
  t.match(await notifier.channels.deliveries(ACCOUNT, slow.id), [{ outcome: 'failed', error: 'no answer within 100 ms' }])
  t.equal(silent.requests.length, 1, 'the request did reach the silent receiver')
})

t.test('a new notifier over the same LevelDB delivers what the previous one left pending', async t => {
  const receiver = await webhookReceiver(t, { statuses: [500] })
  const dir = join(t.testdir(), 'db')
  const first = await openStore(t, dir)
  // A long backoff keeps the delivery pending after its failed first attempt.
  const before = await startNotifier(t, first, { retry: { attempts: 8, baseDelayMs: 60_000, maxDelayMs: 60_000 } })
  const channel = await before.createChannel(ACCOUNT, { url: receiver.url(), secret: SECRET })
  const [deliveryId] = await before.notify(ACCOUNT, serverDown)
  await until(async () => (await before.channels.deliveries(ACCOUNT, channel.id)).length === 1)
  await before.stop()
  t.equal(receiver.requests.length, 1)
  t.match(await before.channels.deliveries(ACCOUNT, channel.id), [{ attempt: 1, outcome: 'retrying', httpStatus: 500 }])
  t.match(await first.table<OutboxEntry>('notify-outbox').list(), [{ id: deliveryId, attempts: 1 }])
  await first.close()

  const second = await openStore(t, dir)
  const after = await startNotifier(t, second, { now: () => Date.now() + 120_000 }) // the retry is due
  await after.whenIdle()
  t.equal(receiver.requests.length, 2)
  t.equal(receiver.requests[1]?.headers['x-lumos-delivery'], deliveryId)
  t.match(await after.channels.deliveries(ACCOUNT, channel.id), [{ attempt: 2, outcome: 'delivered' }, { attempt: 1, outcome: 'retrying' }])
  t.same(await second.table<OutboxEntry>('notify-outbox').list(), [])
})

t.test('deleting a channel drops its pending deliveries and its log', async t => {
  const receiver = await webhookReceiver(t, { statuses: [500] })
  const store = await openStore(t)
  const notifier = await startNotifier(t, store, { retry: { attempts: 8, baseDelayMs: 60_000, maxDelayMs: 60_000 } })
  const channel = await notifier.createChannel(ACCOUNT, { url: receiver.url() })
  await notifier.notify(ACCOUNT, serverDown)
  await until(async () => (await notifier.channels.deliveries(ACCOUNT, channel.id)).length === 1)
  t.equal((await store.table<OutboxEntry>('notify-outbox').list()).length, 1, 'pending before the delete')

  t.ok(await notifier.deleteChannel(ACCOUNT, channel.id))
  await notifier.whenIdle()
  t.same(await store.table<OutboxEntry>('notify-outbox').list(), [])
  t.same(await notifier.channels.deliveries(ACCOUNT, channel.id), [])
  t.notOk(await notifier.deleteChannel(ACCOUNT, channel.id), 'a second delete finds nothing')
})

t.test('the delivery log keeps only the last logLimit attempts of a channel', async t => {
  const receiver = await webhookReceiver(t, { statuses: [500, 500, 500] })
  const notifier = await startNotifier(t, await openStore(t), { logLimit: 2 })
  const channel = await notifier.createChannel(ACCOUNT, { url: receiver.url() })
  await notifier.notify(ACCOUNT, serverDown)
  await notifier.whenIdle()
  t.equal(receiver.requests.length, 4)
  t.match((await notifier.channels.deliveries(ACCOUNT, channel.id)).map(a => a.attempt), [4, 3])
})
