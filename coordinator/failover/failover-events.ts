// FailoverEvent records: what the FailoverEngine did to a domain's DNS and why (the quorum
// observations behind it), with the DNS result and timings. Stored per account in time
// order (table failover-events) and served newest first by GET …/failover/events. A
// journal (table failover-journal) names the events whose work is not finished (DNS
// pending, or notification not yet queued), so a restart finds them without a scan.
import type { PeerObservation } from '../../proto/observation.ts'
import type { DnsChange } from '../dns/dns-provider.ts'
import type { CoordinatorStore, Table } from '../store/store.ts'
import type { DnsOp, FailoverAction, QuorumReason } from './types.ts'

/** Why the failed server was judged as it was, when the decision was made. */
export interface EventObservations {
  serverId: string
  health: 'healthy' | 'unhealthy' | 'down' | 'unknown'
  healthSince: number | null
  quorum: QuorumReason | null
  coordinatorView: string | null
  voters: number
  downVotes: number
  observations: readonly PeerObservation[]
}

export interface FailoverEvent {
  id: string
  accountId: string
  domainId: string
  hostname: string
  type: FailoverAction['type']
  /** Server traffic moved away from / to (null where the type has none). */
  from: string | null
  to: string | null
  reason: string | null
  /** Caused by POST …/domains/:did/drill. */
  drill: boolean
  /**
   * pending: DNS calls under way (a restart finding it marks it interrupted and decides again);
   * done: DNS converged and state saved; failed: the DNS provider kept failing (retried later).
   */
  status: 'pending' | 'done' | 'failed' | 'interrupted'
  observations: EventObservations | null
  dns: { ops: readonly DnsOp[], changes: DnsChange[], attempts: number, error?: { code: string, message: string } }
  timings: {
    /** When the failed server's current health began (detection), ms. */
    failureSince: number | null
    decidedAt: number
    dnsStartedAt: number | null
    dnsFinishedAt: number | null
    /** failureSince → DNS converged. */
    detectToDnsMs: number | null
  }
  /** failover_triggered / failover_recovered queued (types without a notification: true). */
  notified: boolean
  createdAt: string
}

// Events decided in the same millisecond keep their creation order through a sequence
// number taken from the wall clock in µs, so it also grows across restarts.
let lastSeq = 0
function nextSeq (): number {
  lastSeq = Math.max(lastSeq + 1, Date.now() * 1000)
  return lastSeq
}
const eventKey = (event: FailoverEvent & { seq: number }): string =>
  `${event.accountId}!${String(event.timings.decidedAt).padStart(15, '0')}!${String(event.seq).padStart(17, '0')}!${event.id}`

export class FailoverEventLog {
  private readonly events: Table<FailoverEvent>
  private readonly journal: Table<string>

  constructor (store: CoordinatorStore) {
    this.events = store.table<FailoverEvent>('failover-events')
    this.journal = store.table<string>('failover-journal')
  }

  /** Stores (or rewrites) the event; it stays in the journal until done/failed and notified. */
  async save (event: FailoverEvent): Promise<void> {
    const sequenced = event as FailoverEvent & { seq?: number }
    sequenced.seq ??= nextSeq()
    const key = eventKey(sequenced as FailoverEvent & { seq: number })
    await this.events.put(key, event)
    if (event.status === 'pending' || !event.notified) await this.journal.put(event.id, key)
    else await this.journal.del(event.id)
  }

  /** Events whose work a previous run left unfinished. */
  async unfinished (): Promise<FailoverEvent[]> {
    const out: FailoverEvent[] = []
    for await (const [id, key] of this.journal.sub.iterator()) {
      const event = await this.events.get(key as string)
      if (event === undefined) await this.journal.del(String(id))
      else out.push(event)
    }
    return out
  }

  /** The account's events, newest first. */
  async list (accountId: string, limit: number, domainId?: string): Promise<FailoverEvent[]> {
    const out: FailoverEvent[] = []
    for await (const value of this.events.sub.values({ gt: `${accountId}!`, lt: `${accountId}!\xff`, reverse: true })) {
      const event = value as FailoverEvent
      if (domainId !== undefined && event.domainId !== domainId) continue
      out.push(event)
      if (out.length >= limit) break
    }
    return out
  }
}
