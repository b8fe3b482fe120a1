// Webhook channels of an account and the delivery log of each, in two store tables
// (`notify-channels`, `notify-deliveries`). The log keeps the last `logLimit` attempts per
// channel; older ones are deleted as new ones arrive. Channel secrets: see notifier.ts.
import { randomBytes } from 'node:crypto'
import { coordinatorError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { CoordinatorStore, Table } from '../store/store.ts'
import { SUBSCRIBABLE_EVENTS, type NotificationEventType, type SubscribableEventType } from './events.ts'

export interface NotificationChannel {
  id: string
  accountId: string
  /** http: or https: only; redirects are not followed. */
  url: string
  /** Non-empty, without duplicates. */
  events: SubscribableEventType[]
  createdAt: string
  /** HMAC key of x-lumos-signature. Stored as is; never in an API answer after creation, never logged. */
  secret: string
}

/** A channel as API clients see it: no secret. */
export type PublicChannel = Omit<NotificationChannel, 'secret'>

/** One delivery attempt, as recorded in the log and listed by GET …/channels/:cid/deliveries. */
export interface DeliveryAttempt {
  deliveryId: string
  channelId: string
  event: NotificationEventType
  /** 1 for the first attempt. */
  attempt: number
  at: string
  /** `retrying`: failed, another attempt is scheduled at nextAttemptAt; `failed`: the last one failed, given up. */
  outcome: 'delivered' | 'retrying' | 'failed'
  httpStatus?: number
  /** Why the attempt failed (status line or network error), at most 200 characters. */
  error?: string
  durationMs: number
  nextAttemptAt?: string
}

export interface NewChannel { url: string, secret?: string, events?: SubscribableEventType[] }

const channelRange = (accountId: string): { gt: string, lt: string } => ({ gt: `${accountId}!`, lt: `${accountId}!\xff` })
const logRange = (accountId: string, channelId: string): { gt: string, lt: string } => ({ gt: `${accountId}!${channelId}!`, lt: `${accountId}!${channelId}!\xff` })

export function publicChannel (channel: NotificationChannel): PublicChannel {
  const { secret: _hidden, ...rest } = channel
  return rest
}

/** Throws INVALID_WEBHOOK_URL unless `raw` is an absolute http(s) URL. */
export function checkWebhookUrl (raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw coordinatorError('INVALID_WEBHOOK_URL', `webhook url "${raw}" does not parse; send an absolute URL like https://hooks.example.com/lumos`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw coordinatorError('INVALID_WEBHOOK_URL', `webhook url scheme ${url.protocol} is not supported; use https: (or http: on a trusted network)`)
  }
  return url.toString()
}

export class ChannelStore {
  private readonly channels: Table<NotificationChannel>
  private readonly log: Table<DeliveryAttempt>
  private readonly maxChannels: number
  private readonly logLimit: number
  private seq = 0

  constructor (store: CoordinatorStore, limits: { maxChannels: number, logLimit: number }) {
    this.channels = store.table<NotificationChannel>('notify-channels')
    this.log = store.table<DeliveryAttempt>('notify-deliveries')
    this.maxChannels = limits.maxChannels
    this.logLimit = limits.logLimit
  }

  /** Validates and stores (fsynced) a channel; returns it with its secret, generated when absent. */
  async create (accountId: string, input: NewChannel, nowMs: number): Promise<NotificationChannel> {
    const url = checkWebhookUrl(input.url)
    const existing = await this.list(accountId)
    if (existing.length >= this.maxChannels) {
      throw coordinatorError('CHANNEL_LIMIT', `an account may have ${this.maxChannels} notification channels and this one has ${existing.length}; delete one first`)
    }
    const events = input.events === undefined || input.events.length === 0 ? [...SUBSCRIBABLE_EVENTS] : [...new Set(input.events)]
    const channel: NotificationChannel = {
      id: newId('chn'),
      accountId,
      url,
      events,
      createdAt: new Date(nowMs).toISOString(),
      secret: input.secret ?? `lgw_${randomBytes(32).toString('base64url')}`
    }
    await this.channels.put(`${accountId}!${channel.id}`, channel)
    return channel
  }

  async get (accountId: string, channelId: string): Promise<NotificationChannel | undefined> {
    return await this.channels.get(`${accountId}!${channelId}`)
  }

  async list (accountId: string): Promise<NotificationChannel[]> {
    return await this.channels.list(channelRange(accountId))
  }

  /** Removes the channel and its delivery log; false when it did not exist. */
  async delete (accountId: string, channelId: string): Promise<boolean> {
    if (await this.get(accountId, channelId) === undefined) return false
    await this.channels.del(`${accountId}!${channelId}`)
    const keys: string[] = []
    for await (const key of this.log.sub.keys(logRange(accountId, channelId))) keys.push(key)
    if (keys.length > 0) await this.log.sub.batch(keys.map(key => ({ type: 'del' as const, key })), { sync: true } as never)
    return true
  }

  /** Appends one attempt (keys sort by time, then by a per-process sequence) and trims the log to logLimit. */
  async record (accountId: string, attempt: DeliveryAttempt, nowMs: number): Promise<void> {
    this.seq = (this.seq + 1) % 1_000_000
    const key = `${accountId}!${attempt.channelId}!${String(nowMs).padStart(15, '0')}!${String(this.seq).padStart(6, '0')}`
    await this.log.put(key, attempt)
    const keys: string[] = []
    for await (const k of this.log.sub.keys(logRange(accountId, attempt.channelId))) keys.push(k)
    const excess = keys.slice(0, Math.max(0, keys.length - this.logLimit))
    if (excess.length > 0) await this.log.sub.batch(excess.map(k => ({ type: 'del' as const, key: k })), { sync: true } as never)
  }

  /** The channel's recorded attempts, newest first. */
  async deliveries (accountId: string, channelId: string): Promise<DeliveryAttempt[]> {
    return (await this.log.list(logRange(accountId, channelId))).reverse()
  }
}
