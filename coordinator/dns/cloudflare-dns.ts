// CloudflareDns: the DnsProvider adapter over the official `cloudflare` SDK. It finds the
// zone by name (id cached), lists A records with `name.exact` + `type=A`, and converges
// them with PATCH (update in place), POST (create) and DELETE. Each public call is one
// bounded operation: every attempt re-reads the records and writes only what differs, so a
// retry after a half-done attempt (or a timed-out POST that did land) never duplicates.
// Retries cover 429, 5xx, connection failures and per-request timeouts, with exponential
// backoff, jitter and Retry-After; the SDK's own retries are off so the bound is ours.
// Failures become LumosErrors (DNS_*). The API token lives only inside the SDK client,
// held in a private field, and appears in no log line, message or error detail.
// Whether removing the last record of a name is wise is the failover engine's decision.
import Cloudflare from 'cloudflare'
import { isIPv4 } from 'node:net'
import { setTimeout as sleepFor } from 'node:timers/promises'
import type { Logger } from 'pino'
import { isLumosError, LumosError } from '../../proto/lumos-error.ts'
import { coordinatorError } from '../errors.ts'
import type { DnsCallOptions, DnsChange, DnsProvider } from './dns-provider.ts'

export interface RetryPolicy {
  /** Attempts per operation, the first included. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
}

export interface CloudflareDnsInit {
  apiToken: string
  /** Default https://api.cloudflare.com/client/v4; tests point it at the loopback fake. */
  baseURL?: string
  logger: Logger
  /** TTL of created records, seconds (1 = automatic). */
  ttl?: number
  /** Whether created records go through Cloudflare's proxy. */
  proxied?: boolean
  /** Per HTTP request. */
  timeoutMs?: number
  retry?: Partial<RetryPolicy>
  /** Injected for tests: waits between attempts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  random?: () => number
}

export const CLOUDFLARE_DNS_DEFAULTS = Object.freeze({
  baseURL: 'https://api.cloudflare.com/client/v4',
  ttl: 60,
  proxied: false,
  timeoutMs: 10_000,
  retry: Object.freeze({ attempts: 4, baseDelayMs: 250, maxDelayMs: 8_000 })
})

const PER_PAGE = 100
const MAX_PAGES = 50

interface ARow { id: string, name: string, content: string, ttl: number }

type Write =
  | { kind: 'update', row: ARow, ip: string }
  | { kind: 'create', ip: string }
  | { kind: 'delete', row: ARow }

type Plan = (rows: ARow[]) => Write[]

/** A request that hit our per-request timeout (not the caller's abort). */
class RequestTimedOut extends Error {}

export class CloudflareDns implements DnsProvider {
  readonly #client: Cloudflare
  private readonly logger: Logger
  private readonly ttl: number
  private readonly proxied: boolean
  private readonly timeoutMs: number
  private readonly retry: RetryPolicy
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>
  private readonly random: () => number
  private readonly zoneIds = new Map<string, string>()

  constructor (init: CloudflareDnsInit) {
    if (typeof init.apiToken !== 'string' || init.apiToken.trim() === '') throw new LumosError('BAD_CONFIG', 'set the Cloudflare API token (Zone:Read and DNS:Edit on the failover zones)')
    this.logger = init.logger
    this.ttl = init.ttl ?? CLOUDFLARE_DNS_DEFAULTS.ttl
    this.proxied = init.proxied ?? CLOUDFLARE_DNS_DEFAULTS.proxied
    this.timeoutMs = init.timeoutMs ?? CLOUDFLARE_DNS_DEFAULTS.timeoutMs
    this.retry = { ...CLOUDFLARE_DNS_DEFAULTS.retry, ...init.retry }
    if (!Number.isInteger(this.retry.attempts) || this.retry.attempts < 1) throw new LumosError('BAD_CONFIG', 'Cloudflare retry attempts must be an integer of at least 1')
    if (!(this.timeoutMs > 0)) throw new LumosError('BAD_CONFIG', 'Cloudflare request timeout must be positive')
    this.sleep = init.sleep ?? (async (ms, signal) => { await sleepFor(ms, undefined, { signal }) })
    this.random = init.random ?? Math.random
    // Explicit nulls: the SDK would otherwise pick other credentials up from process.env.
    this.#client = new Cloudflare({
      apiToken: init.apiToken,
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: init.baseURL ?? CLOUDFLARE_DNS_DEFAULTS.baseURL,
      maxRetries: 0,
      timeout: this.timeoutMs,
      logLevel: 'off'
    })
  }

  async getARecords (zone: string, name: string, options: DnsCallOptions = {}): Promise<string[]> {
    const z = normalize(zone)
    const n = recordName(z, name)
    return await this.withRetry('get', z, n, options.signal, async () => addresses(await this.listA(await this.zoneId(z, options.signal), n, options.signal)))
  }

  async setARecord (zone: string, name: string, ip: string, options: DnsCallOptions = {}): Promise<DnsChange> {
    return await this.converge('set', zone, name, ip, options, rows => {
      if (rows.length === 0) return [{ kind: 'create', ip }]
      const keep = rows.find(row => row.content === ip) ?? rows[0] as ARow
      const writes: Write[] = keep.content === ip ? [] : [{ kind: 'update', row: keep, ip }]
      return [...writes, ...rows.filter(row => row !== keep).map(row => ({ kind: 'delete' as const, row }))]
    })
  }

  async addARecord (zone: string, name: string, ip: string, options: DnsCallOptions = {}): Promise<DnsChange> {
    return await this.converge('add', zone, name, ip, options, rows =>
      rows.some(row => row.content === ip) ? [] : [{ kind: 'create', ip }])
  }

  async removeARecord (zone: string, name: string, ip: string, options: DnsCallOptions = {}): Promise<DnsChange> {
    return await this.converge('remove', zone, name, ip, options, rows =>
      rows.filter(row => row.content === ip).map(row => ({ kind: 'delete', row })))
  }

  private async converge (op: string, zone: string, name: string, ip: string, options: DnsCallOptions, plan: Plan): Promise<DnsChange> {
    const z = normalize(zone)
    const n = recordName(z, name)
    if (!isIPv4(ip)) throw coordinatorError('DNS_INVALID_RECORD', `${ip} is not an IPv4 address; A records need one`, { zone: z, name: n })
    const signal = options.signal
    let before: string[] | undefined
    const change = await this.withRetry(op, z, n, signal, async () => {
      const zoneId = await this.zoneId(z, signal)
      const rows = await this.listA(zoneId, n, signal)
      before ??= addresses(rows)
      let after = rows.map(row => row.content)
      const writes = plan(rows)
      for (const write of writes) {
        after = await this.apply(zoneId, n, write, after, signal)
      }
      const sorted = [...after].sort()
      return { zone: z, name: n, before, after: sorted, changed: before.join() !== sorted.join() }
    })
    if (change.changed) this.logger.info({ zone: z, name: n, op, before: change.before, after: change.after }, 'DNS A records changed')
    return change
  }

  /** Executes one write; returns the addresses after it. */
  private async apply (zoneId: string, name: string, write: Write, current: string[], signal: AbortSignal | undefined): Promise<string[]> {
    switch (write.kind) {
      case 'update':
        await this.request(signal, opts => this.#client.dns.records.edit(write.row.id, { zone_id: zoneId, type: 'A', name: write.row.name, ttl: write.row.ttl, content: write.ip }, opts))
        return current.map(ip => ip === write.row.content ? write.ip : ip)
      case 'create':
        await this.request(signal, opts => this.#client.dns.records.create({ zone_id: zoneId, type: 'A', name, content: write.ip, ttl: this.ttl, proxied: this.proxied }, opts))
        return [...current, write.ip]
      case 'delete':
        try {
          await this.request(signal, opts => this.#client.dns.records.delete(write.row.id, { zone_id: zoneId }, opts))
        } catch (err) {
          if (statusOf(err) !== 404) throw err // 404: already gone, e.g. an earlier timed-out attempt landed
        }
        return current.filter(ip => ip !== write.row.content)
    }
  }

  private async zoneId (zone: string, signal: AbortSignal | undefined): Promise<string> {
    const cached = this.zoneIds.get(zone)
    if (cached !== undefined) return cached
    const page = await this.request(signal, opts => this.#client.zones.list({ name: zone, per_page: 50 }, opts))
    const found = page.result.find(z => z.name.toLowerCase() === zone)
    if (found === undefined) throw coordinatorError('DNS_ZONE_NOT_FOUND', `Cloudflare has no zone ${zone} visible to the API token; check the zone name and the token's zone permissions`, { zone })
    this.zoneIds.set(zone, found.id)
    return found.id
  }

  private async listA (zoneId: string, name: string, signal: AbortSignal | undefined): Promise<ARow[]> {
    const rows: ARow[] = []
    for (let page = 1; page <= MAX_PAGES; page++) {
      const answer = await this.request(signal, opts => this.#client.dns.records.list({ zone_id: zoneId, type: 'A', name: { exact: name }, page, per_page: PER_PAGE }, opts))
      for (const record of answer.result) {
        if (record.type === 'A' && typeof record.content === 'string') rows.push({ id: record.id, name: record.name, content: record.content, ttl: record.ttl })
      }
      const info = answer.result_info as { total_pages?: number }
      if (answer.result.length < PER_PAGE || (info.total_pages !== undefined && page >= info.total_pages)) break
    }
    return rows
  }

  /** One HTTP request with the per-request timeout linked to the caller's signal. */
  private async request<T> (signal: AbortSignal | undefined, send: (opts: { signal: AbortSignal, timeout: number, maxRetries: 0 }) => PromiseLike<T>): Promise<T> {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    try {
      return await send({ signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]), timeout: this.timeoutMs, maxRetries: 0 })
    } catch (err) {
      if (timeout.aborted && signal?.aborted !== true) throw new RequestTimedOut(`no answer within ${this.timeoutMs} ms`, { cause: err })
      throw err
    }
  }

  private async withRetry<T> (op: string, zone: string, name: string, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt()
      } catch (err) {
        if (isLumosError(err)) throw err
        const context = { op, zone, name, attempts: n }
        if (signal?.aborted === true) throw coordinatorError('DNS_PROVIDER_FAILED', `DNS ${op} for ${name} aborted by the caller`, context)
        const status = statusOf(err)
        const summary = describe(err)
        if (status === 401 || status === 403) throw coordinatorError('DNS_AUTH_FAILED', `Cloudflare refused the API token (${summary}); give the coordinator a token with Zone:Read and DNS:Edit`, { ...context, status }, err)
        if (cloudflareCodes(err).includes(7003)) this.zoneIds.delete(zone) // stale zone id: look it up again
        if (!isRetryable(err, status) || n >= this.retry.attempts) {
          const why = isRetryable(err, status) ? `still failing after ${n} attempts` : 'not retryable'
          throw coordinatorError('DNS_PROVIDER_FAILED', `Cloudflare DNS ${op} for ${name} failed, ${why}: ${summary}`, { ...context, status, cloudflareErrors: cloudflareCodes(err) }, err)
        }
        const delayMs = this.backoff(n, retryAfterMs(err))
        this.logger.warn({ ...context, delayMs, status, reason: summary }, 'Cloudflare DNS call failed; retrying')
        try {
          await this.sleep(delayMs, signal)
        } catch (abort) {
          throw coordinatorError('DNS_PROVIDER_FAILED', `DNS ${op} for ${name} aborted by the caller`, context, abort)
        }
      }
    }
  }

  /** Exponential backoff with equal jitter, at least Retry-After, at most maxDelayMs. */
  private backoff (attempt: number, retryAfter: number): number {
    const exp = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1))
    const jittered = exp / 2 + this.random() * exp / 2
    return Math.round(Math.min(this.retry.maxDelayMs, Math.max(jittered, retryAfter)))
  }
}

function normalize (name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '')
}

function recordName (zone: string, name: string): string {
  const n = normalize(name)
  if (n === '@') return zone
  if (n !== zone && !n.endsWith(`.${zone}`)) throw coordinatorError('DNS_INVALID_RECORD', `${name} is not inside the zone ${zone}; give the full hostname, e.g. shop.${zone}`, { zone, name: n })
  return n
}

function addresses (rows: ARow[]): string[] {
  return rows.map(row => row.content).sort()
}

/** HTTP status of an SDK error; undefined for connection failures and timeouts. */
function statusOf (err: unknown): number | undefined {
  const status = (err as { status?: unknown } | null)?.status
  return typeof status === 'number' ? status : undefined
}

function isRetryable (err: unknown, status: number | undefined): boolean {
  if (err instanceof RequestTimedOut) return true
  // No status: an SDK connection error (its APIError shape carries `headers`) is retried;
  // anything else without a status is a bug on our side and is not.
  if (status === undefined) return err instanceof Error && 'headers' in err
  return status === 429 || status >= 500 || cloudflareCodes(err).includes(7003)
}

function cloudflareCodes (err: unknown): number[] {
  const errors = (err as { errors?: unknown } | null)?.errors
  return Array.isArray(errors) ? errors.map(e => (e as { code?: unknown }).code).filter((c): c is number => typeof c === 'number') : []
}

function describe (err: unknown): string {
  if (err instanceof RequestTimedOut) return err.message
  const status = statusOf(err)
  const errors = (err as { errors?: unknown } | null)?.errors
  const first = Array.isArray(errors) ? errors[0] as { code?: number, message?: string } | undefined : undefined
  if (status !== undefined && first !== undefined) return `HTTP ${status}, Cloudflare error ${first.code ?? '?'}: ${first.message ?? ''}`
  if (status !== undefined) return `HTTP ${status}`
  return err instanceof Error ? err.message : String(err)
}

function retryAfterMs (err: unknown): number {
  const headers = (err as { headers?: unknown } | null)?.headers
  const value = headers instanceof Headers ? headers.get('retry-after') : null
  if (value === null) return 0
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now())
}
