// Notification events and their webhook wire format (pure: no clock, no IO).
//
// Body (JSON, fixed when the event is queued, identical on every retry):
//   { "id": "dlv_…", "type": "server_down", "accountId": "acc_…",
//     "createdAt": "2025-01-02T03:04:05.000Z", "data": { …per type, see NotificationEventData } }
// Headers of every attempt:
//   x-lumos-event: <type>         x-lumos-delivery: <id> (receivers dedupe on it: at-least-once)
//   x-lumos-timestamp: <unix seconds of this attempt>
//   x-lumos-signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
// A receiver recomputes the HMAC over the raw body, compares in constant time and rejects
// timestamps far from its clock (replays); `verifyWebhookSignature` is that check.
import { createHmac, timingSafeEqual } from 'node:crypto'

/** The `data` of each event type. Producers may add fields; these are the ones receivers can count on. */
export interface NotificationEventData {
  /** A server declared down by quorum (coordinator/failover). */
  server_down: { serverId: string, serverName?: string, reason?: string }
  /** A node reported a failure, e.g. `type: 'haproxy_reload_failed'`, with its message. */
  server_error: { serverId: string, serverName?: string, type: string, message: string }
  /** DNS moved a domain from its (down) primary to a secondary. */
  failover_triggered: { domainId: string, hostname: string, fromServerId: string, toServerId: string, reason?: string }
  /** DNS moved a domain back to its recovered primary after the hold-down. */
  failover_recovered: { domainId: string, hostname: string, fromServerId: string, toServerId: string }
  /** Sent only by POST …/channels/:cid/test, to the one channel, whatever it subscribes to. */
  test: { channelId: string, message: string }
}

export type NotificationEventType = keyof NotificationEventData

/** The event types a channel can subscribe to (`test` is not one: it is always sent on request). */
export const SUBSCRIBABLE_EVENTS = ['server_down', 'server_error', 'failover_triggered', 'failover_recovered'] as const
export type SubscribableEventType = typeof SUBSCRIBABLE_EVENTS[number]

export type NotificationEvent = { [K in NotificationEventType]: { type: K, data: NotificationEventData[K] } }[NotificationEventType]

export interface WebhookPayload {
  id: string
  type: NotificationEventType
  accountId: string
  createdAt: string
  data: NotificationEvent['data']
}

export function webhookBody (deliveryId: string, accountId: string, event: NotificationEvent, createdAtMs: number): string {
  const payload: WebhookPayload = { id: deliveryId, type: event.type, accountId, createdAt: new Date(createdAtMs).toISOString(), data: event.data }
  return JSON.stringify(payload)
}

/** The `x-lumos-signature` value: `sha256=` + hex HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function webhookSignature (secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** The headers of one attempt; `nowMs` is the attempt's time, so a retry carries a fresh timestamp. */
export function webhookHeaders (secret: string, event: NotificationEventType, deliveryId: string, body: string, nowMs: number): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000))
  return {
    'content-type': 'application/json',
    'user-agent': 'lumos-gate-notifier/1',
    'x-lumos-event': event,
    'x-lumos-delivery': deliveryId,
    'x-lumos-timestamp': timestamp,
    'x-lumos-signature': webhookSignature(secret, timestamp, body)
  }
}

/** What a receiver does: true when the signature matches and the timestamp is within `toleranceS` of `nowMs`. */
export function verifyWebhookSignature (secret: string, headers: { timestamp: string, signature: string }, body: string, nowMs: number, toleranceS = 300): boolean {
  const ts = Number(headers.timestamp)
  if (!Number.isInteger(ts) || Math.abs(nowMs / 1000 - ts) > toleranceS) return false
  const expected = Buffer.from(webhookSignature(secret, headers.timestamp, body))
  const given = Buffer.from(headers.signature)
  return expected.length === given.length && timingSafeEqual(expected, given)
}

export interface RetryPolicy {
  /** Attempts per delivery, the first included. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
}

/** Delay before attempt `attempt + 1`: exponential from baseDelayMs, equal jitter, capped at maxDelayMs. */
export function retryDelay (attempt: number, policy: RetryPolicy, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
  return Math.round(exp / 2 + random() * exp / 2)
}
