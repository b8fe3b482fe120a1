// Notifier: delivers server_down, server_error, failover_triggered and failover_recovered
// to the account's webhook channels (wire format in events.ts).
//
// Nothing is lost: `notify()` writes one outbox entry per matching channel, fsynced in one
// batch, before it returns; delivery is asynchronous. Each attempt POSTs the entry's fixed
// body with a fresh timestamp and HMAC signature, under a per-request timeout; a 2xx answer
// delivers it, anything else (3xx included: redirects are not followed) schedules a retry with
// exponential backoff and jitter until the attempt bound, then the delivery is `failed`. Every
// attempt goes to the channel's bounded delivery log. The outbox survives a restart: `start()`
// reschedules every pending entry at its stored time, so delivery is at-least-once (receivers
// dedupe on x-lumos-delivery). At most `maxInFlight` requests run at once.
//
// Channel secrets are stored in clear in the coordinator's LevelDB. HMAC signing needs the
// secret itself, so it cannot be hashed like API keys; encrypting it with a key kept in the
// same data dir would protect nothing the ed25519 signing key (stored there too) does not
// already expose. The data dir is therefore as sensitive as the signing key. The secret is
// shown once (in the creation answer), never returned afterwards, and never logged: log
// lines carry account, channel and delivery ids only.
import type { Logger } from 'pino'
import { newId } from '../ids.ts'
import type { CoordinatorStore, Table } from '../store/store.ts'
import { ChannelStore, type DeliveryAttempt, type NewChannel, type NotificationChannel } from './channels.ts'
import { retryDelay, webhookBody, webhookHeaders, type NotificationEvent, type NotificationEventType, type RetryPolicy, type SubscribableEventType } from './events.ts'

/** An event the coordinator raises; `test` is only sent through `sendTest`. */
export type CoordinatorEvent = Extract<NotificationEvent, { type: SubscribableEventType }>

/** A delivery still to be attempted. Deleted once delivered, failed, or its channel deleted. */
export interface OutboxEntry {
  id: string
  accountId: string
  channelId: string
  event: NotificationEventType
  /** The exact JSON sent on every attempt. */
  body: string
  /** Attempts made so far. */
  attempts: number
  /** When the next attempt is due (ms since the epoch). */
  nextAttemptAt: number
}

export interface NotifierInit {
  store: CoordinatorStore
  logger: Logger
  /** Injected for tests; default Date.now. */
  now?: () => number
  /** Injected for tests; default globalThis.fetch. */
  fetch?: typeof fetch
  /** Injected for tests (jitter); default Math.random. */
  random?: () => number
  retry?: Partial<RetryPolicy>
  /** Per webhook request. */
  timeoutMs?: number
  maxInFlight?: number
  /** Channels per account. */
  maxChannels?: number
  /** Attempts kept in the delivery log, per channel. */
  logLimit?: number
}

/** 8 attempts 5 s, 10 s, 20 s … apart (±50 % jitter, at most 5 min): a receiver may be away ~10 min. */
export const NOTIFIER_DEFAULTS = Object.freeze({
  retry: Object.freeze({ attempts: 8, baseDelayMs: 5_000, maxDelayMs: 300_000 }),
  timeoutMs: 10_000,
  maxInFlight: 8,
  maxChannels: 20,
  logLimit: 100
})

type AttemptResult = { ok: true, status: number } | { ok: false, status?: number, error: string } | { aborted: true }

export class Notifier {
  readonly channels: ChannelStore
  private readonly outbox: Table<OutboxEntry>
  private readonly logger: Logger
  private readonly now: () => number
  private readonly fetch: typeof fetch
  private readonly random: () => number
  private readonly retry: RetryPolicy
  private readonly timeoutMs: number
  private readonly maxInFlight: number
  private readonly timers = new Map<string, NodeJS.Timeout>()
  private readonly inFlight = new Map<string, Promise<void>>()
  private ready: string[] = []
  private idleWaiters: Array<() => void> = []
  private running = false
  private stopping = new AbortController()

  constructor (init: NotifierInit) {
    this.logger = init.logger
    this.now = init.now ?? Date.now
    this.fetch = init.fetch ?? globalThis.fetch
    this.random = init.random ?? Math.random
    this.retry = { ...NOTIFIER_DEFAULTS.retry, ...init.retry }
    this.timeoutMs = init.timeoutMs ?? NOTIFIER_DEFAULTS.timeoutMs
    this.maxInFlight = init.maxInFlight ?? NOTIFIER_DEFAULTS.maxInFlight
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 1) throw new RangeError('notifier retry attempts must be an integer of at least 1')
    if (!(this.timeoutMs > 0) || !(this.maxInFlight >= 1)) throw new RangeError('notifier timeoutMs and maxInFlight must be positive')
    this.channels = new ChannelStore(init.store, { maxChannels: init.maxChannels ?? NOTIFIER_DEFAULTS.maxChannels, logLimit: init.logLimit ?? NOTIFIER_DEFAULTS.logLimit })
    this.outbox = init.store.table<OutboxEntry>('notify-outbox')
  }

  /** Resumes the deliveries left in the outbox (by a previous run, or queued while stopped). */
  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    this.stopping = new AbortController()
    const pending = await this.outbox.list()
    if (pending.length > 0) this.logger.info({ pending: pending.length }, 'resuming pending webhook deliveries')
    for (const entry of pending) this.schedule(entry)
  }

  /** Cancels timers and aborts requests in flight; their deliveries stay in the outbox for the next start. */
  async stop (): Promise<void> {
    this.running = false
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
    this.ready = []
    this.stopping.abort()
    await Promise.allSettled([...this.inFlight.values()])
    this.wakeIdle()
  }

  /** Queues `event` durably for every channel of the account subscribed to it; returns the delivery ids. */
  async notify (accountId: string, event: CoordinatorEvent): Promise<string[]> {
    const channels = (await this.channels.list(accountId)).filter(c => c.events.includes(event.type))
    return await this.enqueue(accountId, channels, event)
  }

  /** Queues a `test` event for one channel; undefined when the channel does not exist. */
  async sendTest (accountId: string, channelId: string): Promise<string | undefined> {
    const channel = await this.channels.get(accountId, channelId)
    if (channel === undefined) return undefined
    const [id] = await this.enqueue(accountId, [channel], { type: 'test', data: { channelId, message: 'test notification from Lumos Gate' } })
    return id
  }

  async createChannel (accountId: string, input: NewChannel): Promise<NotificationChannel> {
    return await this.channels.create(accountId, input, this.now())
  }

  /** Deletes the channel, its log and its pending deliveries; false when it did not exist. */
  async deleteChannel (accountId: string, channelId: string): Promise<boolean> {
    if (!await this.channels.delete(accountId, channelId)) return false
    for (const entry of await this.outbox.list()) {
      if (entry.accountId !== accountId || entry.channelId !== channelId) continue
      clearTimeout(this.timers.get(entry.id))
      this.timers.delete(entry.id)
      await this.outbox.del(entry.id)
    }
    this.wakeIdle()
    return true
  }

  /** Resolves once nothing is scheduled or in flight (everything delivered, failed or stopped). */
  async whenIdle (): Promise<void> {
    if (this.isIdle()) return
    await new Promise<void>(resolve => { this.idleWaiters.push(resolve) })
  }

  private async enqueue (accountId: string, channels: NotificationChannel[], event: NotificationEvent): Promise<string[]> {
    if (channels.length === 0) return []
    const createdAt = this.now()
    const entries: OutboxEntry[] = channels.map(channel => {
      const id = newId('dlv')
      return { id, accountId, channelId: channel.id, event: event.type, body: webhookBody(id, accountId, event, createdAt), attempts: 0, nextAttemptAt: createdAt }
    })
    await this.outbox.sub.batch(entries.map(entry => ({ type: 'put' as const, key: entry.id, value: entry })), { sync: true } as never)
    this.logger.info({ account: accountId, event: event.type, deliveries: entries.length }, 'notification queued')
    for (const entry of entries) this.schedule(entry)
    return entries.map(entry => entry.id)
  }

  private schedule (entry: OutboxEntry): void {
    if (!this.running) return // start() picks it up from the outbox
    clearTimeout(this.timers.get(entry.id))
    const timer = setTimeout(() => {
      this.timers.delete(entry.id)
      this.ready.push(entry.id)
      this.pump()
    }, Math.max(0, entry.nextAttemptAt - this.now()))
    timer.unref()
    this.timers.set(entry.id, timer)
  }

  private pump (): void {
    while (this.running && this.inFlight.size < this.maxInFlight && this.ready.length > 0) {
      const id = this.ready.shift() as string
      const run = this.attempt(id)
        .catch((err: unknown) => { this.logger.error({ err, delivery: id }, 'webhook delivery bookkeeping failed; retried at the next start') })
        .finally(() => {
          this.inFlight.delete(id)
          this.pump()
          this.wakeIdle()
        })
      this.inFlight.set(id, run)
    }
  }

  private async attempt (id: string): Promise<void> {
    const entry = await this.outbox.get(id)
    if (entry === undefined) return
    const channel = await this.channels.get(entry.accountId, entry.channelId)
    if (channel === undefined) { await this.outbox.del(id); return }
    const startedAt = this.now()
    const result = await this.send(channel, entry, startedAt)
    if ('aborted' in result) return // stopping: the entry stays in the outbox as it was
    const finishedAt = this.now()
    const n = entry.attempts + 1
    const log = { account: entry.accountId, channel: entry.channelId, delivery: id, event: entry.event, attempt: n }
    const record: DeliveryAttempt = {
      deliveryId: id,
      channelId: entry.channelId,
      event: entry.event,
      attempt: n,
      at: new Date(startedAt).toISOString(),
      outcome: 'delivered',
      ...(result.status === undefined ? {} : { httpStatus: result.status }),
      ...(result.ok ? {} : { error: result.error }),
      durationMs: Math.max(0, finishedAt - startedAt)
    }
    if (result.ok) {
      await this.channels.record(entry.accountId, record, finishedAt)
      await this.outbox.del(id)
      this.logger.info(log, 'webhook delivered')
    } else if (n >= this.retry.attempts) {
      await this.channels.record(entry.accountId, { ...record, outcome: 'failed' }, finishedAt)
      await this.outbox.del(id)
      this.logger.warn({ ...log, reason: result.error }, 'webhook delivery failed; giving up after the last attempt')
    } else {
      const next: OutboxEntry = { ...entry, attempts: n, nextAttemptAt: finishedAt + retryDelay(n, this.retry, this.random) }
      await this.outbox.put(id, next)
      await this.channels.record(entry.accountId, { ...record, outcome: 'retrying', nextAttemptAt: new Date(next.nextAttemptAt).toISOString() }, finishedAt)
      this.logger.warn({ ...log, reason: result.error, delayMs: next.nextAttemptAt - finishedAt }, 'webhook delivery failed; retrying')
      this.schedule(next)
    }
  }

  private async send (channel: NotificationChannel, entry: OutboxEntry, nowMs: number): Promise<AttemptResult> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    try {
      const res = await this.fetch(channel.url, {
        method: 'POST',
        headers: webhookHeaders(channel.secret, entry.event, entry.id, entry.body, nowMs),
        body: entry.body,
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.stopping.signal])
      })
      await res.body?.cancel().catch(() => {})
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status }
      return { ok: false, status: res.status, error: `HTTP ${res.status} ${res.statusText}`.trim().slice(0, 200) }
    } catch (err) {
      if (this.stopping.signal.aborted) return { aborted: true }
      if (timeout.aborted) return { ok: false, error: `no answer within ${this.timeoutMs} ms` }
      return { ok: false, error: describe(err) }
    }
  }

  private isIdle (): boolean {
    return this.timers.size === 0 && this.ready.length === 0 && this.inFlight.size === 0
  }

  private wakeIdle (): void {
    if (!this.isIdle() && this.running) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}

/** A network error as one line: undici hides the useful part (ECONNREFUSED …) in `cause`. */
function describe (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const cause = err instanceof Error ? (err.cause as { code?: unknown, message?: unknown } | undefined) : undefined
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : ''
  return (detail === '' ? message : `${message}: ${detail}`).slice(0, 200)
}
