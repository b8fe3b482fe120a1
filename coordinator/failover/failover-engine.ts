// FailoverEngine: the IO shell around decideFailover. Every interval (500 ms) and on every
// status change it builds the input — failover-enabled domains (re-read when the account's
// signed head moves), server health from the fleet state (quorum + HAProxy health), the A
// records read through the DnsProvider (cached; re-read periodically and after a failed
// call, which is how drift is seen) and the per-domain state persisted in LevelDB — runs
// the pure core and carries the actions out in order: event saved as pending → DNS calls
// → state saved → event done → notification queued. A crash anywhere in between is
// repaired on restart: pending events are marked interrupted and the core decides again
// (it rewrites drifted DNS itself), events not yet notified are notified.
import type { Logger } from 'pino'
import { isLumosError } from '../../proto/lumos-error.ts'
import type { DnsProvider } from '../dns/dns-provider.ts'
import type { ServerRuntime } from '../fleet/account-fleet.ts'
import { newId } from '../ids.ts'
import type { DomainRecord } from '../model.ts'
import type { CoordinatorEvent } from '../notify/notifier.ts'
import type { CoordinatorStore, Table } from '../store/store.ts'
import { DEFAULT_HOLD_DOWN_MS } from './constants.ts'
import { decideFailover } from './decide-failover.ts'
import { drilledHealth, drillExpired, type FailoverDrill } from './failover-drills.ts'
import { FailoverEventLog, type EventObservations, type FailoverEvent } from './failover-events.ts'
import type { DomainFailoverState, FailoverAction, FailoverInput, ServerHealth } from './types.ts'

/** What the engine reads from the fleet state. */
export interface FailoverFleet {
  accountIds: () => string[]
  health: (accountId: string) => Record<string, ServerHealth>
  runtime: (accountId: string, serverId: string) => ServerRuntime | undefined
}

export interface FailoverEngineInit {
  store: CoordinatorStore
  dns: DnsProvider
  fleet: FailoverFleet
  notify?: (accountId: string, event: CoordinatorEvent) => Promise<unknown>
  logger: Logger
  now?: () => number
  holdDownMs?: number
  intervalMs?: number
  /** Cached A records are re-read this often (drift made outside the engine). */
  dnsRefreshMs?: number
}

export const FAILOVER_ENGINE_DEFAULTS = Object.freeze({ intervalMs: 500, dnsRefreshMs: 60_000, maxRetryDelayMs: 30_000 })

interface DomainCache { ips: string[], key: string, readAt: number }

export class FailoverEngine {
  readonly events: FailoverEventLog
  private readonly init: FailoverEngineInit
  private readonly now: () => number
  private readonly holdDownMs: number
  private readonly stateTable: Table<DomainFailoverState>
  private readonly domains = new Map<string, { head: number, list: DomainRecord[] }>()
  private readonly dnsCache = new Map<string, DomainCache>()
  private readonly retryAt = new Map<string, { at: number, failures: number, event: FailoverEvent }>()
  private readonly drills = new Map<string, FailoverDrill>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private started = false

  constructor (init: FailoverEngineInit) {
    this.init = init
    this.now = init.now ?? Date.now
    this.holdDownMs = init.holdDownMs ?? DEFAULT_HOLD_DOWN_MS
    this.events = new FailoverEventLog(init.store)
    this.stateTable = init.store.table<DomainFailoverState>('failover-state')
  }

  async start (): Promise<void> {
    this.started = true
    for (const event of await this.events.unfinished()) {
      if (event.status === 'pending') {
        this.init.logger.warn({ account: event.accountId, domain: event.domainId, event: event.id }, 'failover event interrupted by a restart; deciding again')
        await this.events.save({ ...event, status: 'interrupted', notified: true })
      } else if (!event.notified) {
        await this.announce(event)
      }
    }
    const tick = (): void => {
      this.trigger()
      if (this.started) this.timer = setTimeout(tick, this.init.intervalMs ?? FAILOVER_ENGINE_DEFAULTS.intervalMs)
    }
    tick()
  }

  async stop (): Promise<void> {
    this.started = false
    clearTimeout(this.timer)
    await this.running
  }

  /** Decide now (coalesced: one round at a time, one more if asked during a round). */
  trigger (): void {
    if (!this.started) return
    if (this.running !== undefined) { this.again = true; return }
    this.running = this.round()
      .catch(err => { this.init.logger.error({ err }, 'failover round failed; the next round retries') })
      .finally(() => {
        this.running = undefined
        if (this.again) { this.again = false; this.trigger() }
      })
  }

  /** Runs a full round now and resolves once no round is in flight (tests, drills). */
  async decideNow (): Promise<void> {
    this.trigger()
    while (this.running !== undefined) await this.running
  }

  /** Starts a drill: the domain's primary counts as down for `ms`. */
  drill (domain: DomainRecord, ms: number): FailoverDrill {
    const now = this.now()
    const drill: FailoverDrill = { accountId: domain.accountId, domainId: domain.id, serverId: domain.serverIds[0] as string, startedAt: now, until: now + ms }
    this.drills.set(`${domain.accountId}!${domain.id}`, drill)
    this.init.logger.warn({ account: domain.accountId, domain: domain.hostname, server: drill.serverId, ms }, 'failover drill started')
    this.trigger()
    return drill
  }

  private async round (): Promise<void> {
    for (const accountId of this.init.fleet.accountIds()) await this.decideAccount(accountId)
  }

  private async decideAccount (accountId: string): Promise<void> {
    const domains = (await this.domainsOf(accountId)).filter(d => d.failover.enabled && d.failover.zone !== '' && d.failover.record !== '' && d.serverIds.length > 0)
    if (domains.length === 0) return
    const now = this.now()
    const health = this.init.fleet.health(accountId)
    const state: Record<string, DomainFailoverState> = {}
    const dns: Record<string, readonly string[]> = {}
    const ready: DomainRecord[] = []
    for (const domain of domains) {
      const retry = this.retryAt.get(`${accountId}!${domain.id}`)
      if (retry !== undefined && retry.at > now) continue
      const saved = await this.stateTable.get(`${accountId}!${domain.id}`)
      if (saved !== undefined) state[domain.id] = saved
      const ips = await this.records(domain, now)
      if (ips !== undefined) dns[domain.id] = ips
      ready.push(domain)
    }
    const base = { dns, state, now, holdDownMs: this.holdDownMs }
    const plain = ready.filter(d => this.drillOf(d, now) === undefined)
    const actions: Array<{ action: FailoverAction, servers: Record<string, ServerHealth>, drill: boolean }> =
      decideFailover({ ...base, domains: plain, servers: health }).map(action => ({ action, servers: health, drill: false }))
    for (const domain of ready) {
      const drill = this.drillOf(domain, now)
      if (drill === undefined) continue
      const servers = drilledHealth(health, drill, now)
      for (const action of decideFailover({ ...base, domains: [domain], servers } satisfies FailoverInput)) actions.push({ action, servers, drill: true })
    }
    for (const { action, servers, drill } of actions) {
      const domain = ready.find(d => d.id === action.domainId) as DomainRecord
      await this.execute(domain, action, servers, drill)
    }
  }

  /** Carries one action out: event pending → DNS → state → event done → notification. */
  private async execute (domain: DomainRecord, action: FailoverAction, servers: Record<string, ServerHealth>, drill: boolean): Promise<void> {
    const { logger, dns } = this.init
    const key = `${domain.accountId}!${domain.id}`
    const now = this.now()
    const failed = 'from' in action ? action.from : action.type === 'no-healthy-secondary' ? action.failed : null
    const previous = this.retryAt.get(key)?.event
    const event: FailoverEvent = previous !== undefined && previous.type === action.type && previous.to === targetOf(action)
      ? { ...previous, status: 'pending' }
      : this.newEvent(domain, action, failed, servers, drill, now)
    const log = { account: domain.accountId, domain: domain.hostname, event: event.id, type: action.type, from: event.from, to: event.to, reason: event.reason, drill }
    if (action.dns.length > 0) {
      await this.events.save(event)
      event.dns.attempts++
      event.timings.dnsStartedAt = this.now()
      try {
        for (const op of action.dns) {
          const call = op.op === 'set' ? dns.setARecord : op.op === 'add' ? dns.addARecord : dns.removeARecord
          const change = await call.call(dns, op.zone, op.record, op.ip, { signal: AbortSignal.timeout(60_000) })
          event.dns.changes.push(change)
          this.dnsCache.set(domain.id, { ips: change.after, key: cacheKey(domain), readAt: this.now() })
        }
      } catch (err) {
        this.dnsCache.delete(domain.id) // re-read before the next attempt
        const failures = (this.retryAt.get(key)?.failures ?? 0) + 1
        const delayMs = Math.min(FAILOVER_ENGINE_DEFAULTS.maxRetryDelayMs, 1000 * 2 ** (failures - 1))
        event.status = 'failed'
        event.dns.error = { code: isLumosError(err) ? err.code : 'INTERNAL', message: (err as Error).message }
        event.notified = true
        await this.events.save(event)
        this.retryAt.set(key, { at: this.now() + delayMs, failures, event })
        logger.error({ ...log, err, delayMs }, 'failover DNS change failed; retrying')
        return
      }
      event.timings.dnsFinishedAt = this.now()
      if (event.timings.failureSince !== null) event.timings.detectToDnsMs = event.timings.dnsFinishedAt - event.timings.failureSince
    }
    this.retryAt.delete(key)
    await this.stateTable.put(key, action.state)
    event.status = 'done'
    event.notified = action.type !== 'failover-triggered' && action.type !== 'failover-recovered'
    await this.events.save(event)
    if (action.type === 'no-healthy-secondary') logger.warn(log, 'failover needed but no healthy secondary; DNS left as it is')
    else logger.info({ ...log, dnsMs: (event.timings.dnsFinishedAt ?? now) - (event.timings.dnsStartedAt ?? now), detectToDnsMs: event.timings.detectToDnsMs }, 'failover action done')
    if (!event.notified) await this.announce(event)
  }

  private async announce (event: FailoverEvent): Promise<void> {
    if (event.type !== 'failover-triggered' && event.type !== 'failover-recovered') return
    const data = { domainId: event.domainId, hostname: event.hostname, fromServerId: event.from ?? '', toServerId: event.to ?? '' }
    try {
      if (event.type === 'failover-triggered') await this.init.notify?.(event.accountId, { type: 'failover_triggered', data: { ...data, reason: event.reason ?? undefined } })
      else await this.init.notify?.(event.accountId, { type: 'failover_recovered', data })
      await this.events.save({ ...event, notified: true })
    } catch (err) {
      this.init.logger.error({ err, account: event.accountId, event: event.id }, 'failover notification not queued; retried at the next start')
    }
  }

  private newEvent (domain: DomainRecord, action: FailoverAction, failed: string | null, servers: Record<string, ServerHealth>, drill: boolean, now: number): FailoverEvent {
    const h = failed === null ? undefined : servers[failed]
    const runtime = failed === null ? undefined : this.init.fleet.runtime(domain.accountId, failed)
    const observations: EventObservations | null = failed === null
      ? null
      : {
          serverId: failed,
          health: h?.state ?? 'unknown',
          healthSince: h?.since ?? null,
          quorum: runtime?.verdict.reason ?? null,
          coordinatorView: runtime?.coordinatorView ?? null,
          voters: runtime?.verdict.voters ?? 0,
          downVotes: runtime?.verdict.downVotes ?? 0,
          observations: runtime?.verdict.observations ?? []
        }
    return {
      id: newId('fev'),
      accountId: domain.accountId,
      domainId: domain.id,
      hostname: domain.hostname,
      type: action.type,
      from: 'from' in action ? action.from : action.type === 'no-healthy-secondary' ? action.failed : null,
      to: targetOf(action),
      reason: 'reason' in action ? action.reason : null,
      drill,
      status: 'pending',
      observations,
      dns: { ops: action.dns, changes: [], attempts: 0 },
      timings: { failureSince: action.type === 'failover-triggered' ? (h?.since ?? null) : null, decidedAt: now, dnsStartedAt: null, dnsFinishedAt: null, detectToDnsMs: null },
      notified: false,
      createdAt: new Date(now).toISOString()
    }
  }

  private drillOf (domain: DomainRecord, now: number): FailoverDrill | undefined {
    const key = `${domain.accountId}!${domain.id}`
    const drill = this.drills.get(key)
    if (drill !== undefined && drillExpired(drill, now, this.holdDownMs)) { this.drills.delete(key); return undefined }
    return drill
  }

  /** The account's domains, re-read only when its signed head moved. */
  private async domainsOf (accountId: string): Promise<DomainRecord[]> {
    const head = (await this.init.store.getHead(accountId))?.version ?? 0
    const cached = this.domains.get(accountId)
    if (cached !== undefined && cached.head === head) return cached.list
    const list = await this.init.store.listDomains(accountId)
    this.domains.set(accountId, { head, list })
    return list
  }

  /** Current A records of the domain's failover record (cached); undefined when unreadable now. */
  private async records (domain: DomainRecord, now: number): Promise<string[] | undefined> {
    const cached = this.dnsCache.get(domain.id)
    const refreshMs = this.init.dnsRefreshMs ?? FAILOVER_ENGINE_DEFAULTS.dnsRefreshMs
    if (cached !== undefined && cached.key === cacheKey(domain) && now - cached.readAt < refreshMs) return cached.ips
    try {
      const ips = await this.init.dns.getARecords(domain.failover.zone, domain.failover.record, { signal: AbortSignal.timeout(30_000) })
      this.dnsCache.set(domain.id, { ips, key: cacheKey(domain), readAt: this.now() })
      return ips
    } catch (err) {
      this.init.logger.warn({ err, account: domain.accountId, domain: domain.hostname }, 'cannot read the DNS records; deciding without them')
      return cached?.ips
    }
  }
}

function targetOf (action: FailoverAction): string | null {
  return 'to' in action ? action.to : null
}

function cacheKey (domain: DomainRecord): string {
  return `${domain.failover.zone}|${domain.failover.record}`
}
