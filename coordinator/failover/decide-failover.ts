// Where should each domain's DNS point? Pure: `decideFailover(input) → actions` from the
// domains, the servers' health (quorum + HAProxy health, with `since`), the current A
// records, the persisted per-domain state and `now`. The FailoverEngine shell runs each
// action's DNS calls, then persists its `state`, then records the event and notifies.
//
// Failover mode (one A record; why 'unhealthy' counts: docs/decisions/004-quorum.md):
// - Primary not healthy ('down' by quorum or 'unhealthy' by its own heartbeat) and no
//   failover active → point at the first healthy secondary (failover-triggered).
// - The secondary in use fails or is unassigned → the next healthy secondary
//   (failover-triggered), else back to the primary if it is healthy (failover-recovered).
// - Failback (failover-recovered) only when the primary has been healthy continuously for
//   the hold-down *and* the last switch is a hold-down old: a primary bouncing within the
//   hold-down never gets traffic back, so DNS does not flap.
// - Nowhere to go → one no-healthy-secondary event per failure, DNS untouched.
// - DNS showing something else than the state says → dns-repair (no notification).
// Round-robin mode (one A record per server): remove a failed server's IP, restore a
// recovered one after the hold-down, never remove the last IP (no-healthy-secondary).
// Addresses in the record that belong to no assigned server are left alone.
//
// Idempotent: applying the actions (applyFailoverActions) and deciding again yields none.
// Domains with failover disabled, or without a zone/record, are never touched.
import { DEFAULT_HOLD_DOWN_MS } from './constants.ts'
import { NO_FAILOVER_STATE } from './types.ts'
import type { DnsOp, DomainFailoverState, FailoverAction, FailoverDomain, FailoverInput, ServerHealth } from './types.ts'

/** What one domain's decision may read. */
interface Ctx {
  readonly domain: FailoverDomain
  readonly st: DomainFailoverState
  readonly dns: readonly string[] | undefined
  readonly health: (id: string) => ServerHealth | undefined
  readonly now: number
  readonly holdDownMs: number
}

export function decideFailover (input: FailoverInput): FailoverAction[] {
  const holdDownMs = input.holdDownMs ?? DEFAULT_HOLD_DOWN_MS
  const health = (id: string): ServerHealth | undefined => Object.hasOwn(input.servers, id) ? input.servers[id] : undefined
  const actions: FailoverAction[] = []
  for (const domain of input.domains) {
    const { enabled, mode, zone, record } = domain.failover
    if (!enabled || zone === '' || record === '' || domain.serverIds.length === 0) continue
    const ctx: Ctx = {
      domain,
      st: (Object.hasOwn(input.state, domain.id) ? input.state[domain.id] : undefined) ?? NO_FAILOVER_STATE,
      dns: Object.hasOwn(input.dns, domain.id) ? input.dns[domain.id] : undefined,
      health,
      now: input.now,
      holdDownMs
    }
    const action = mode === 'round-robin' ? decideRoundRobin(ctx) : decideSingleRecord(ctx)
    if (action !== null) actions.push(action)
  }
  return actions
}

/**
 * The world after the shell carried out `actions` successfully: DNS records and persisted
 * state as they then are. The shell's bookkeeping and the idempotence tests share it.
 */
export function applyFailoverActions (input: FailoverInput, actions: readonly FailoverAction[]): FailoverInput {
  const dns: Record<string, readonly string[]> = { ...input.dns }
  const state: Record<string, DomainFailoverState> = { ...input.state }
  for (const action of actions) {
    let ips = new Set(dns[action.domainId] ?? [])
    for (const op of action.dns) {
      if (op.op === 'set') ips = new Set([op.ip])
      else if (op.op === 'add') ips.add(op.ip)
      else ips.delete(op.ip)
    }
    if (action.dns.length > 0) dns[action.domainId] = [...ips].sort()
    state[action.domainId] = action.state
  }
  return { ...input, dns, state }
}

function decideSingleRecord (ctx: Ctx): FailoverAction | null {
  const { domain, st, now, holdDownMs } = ctx
  const primary = domain.serverIds[0] as string
  // An `active` naming the primary itself (a reordered domain) means no failover is active.
  const active = st.active !== null && st.active.to !== primary ? st.active : null

  if (active === null) {
    const p = ctx.health(primary)
    if (p === undefined || p.state === 'healthy') return repair(ctx, primary)
    const next = firstHealthySecondary(ctx, null)
    if (next === null) return noHealthy(ctx, primary, p.since)
    return switchTo(ctx, 'failover-triggered', primary, next, p.state === 'down' ? 'primary-down' : 'primary-unhealthy')
  }

  const inUse = active.to
  const switchedLongAgo = st.lastSwitchAt === null || now - st.lastSwitchAt >= holdDownMs
  if (isStable(ctx, primary) && switchedLongAgo) return switchTo(ctx, 'failover-recovered', inUse, primary, 'primary-stable')

  const assigned = domain.serverIds.includes(inUse)
  const s = ctx.health(inUse)
  if (assigned && s?.state === 'healthy') return repair(ctx, inUse)

  const next = firstHealthySecondary(ctx, inUse)
  const reason = !assigned ? 'target-removed' : s?.state === 'unhealthy' ? 'target-unhealthy' : 'target-down'
  if (next !== null) return switchTo(ctx, 'failover-triggered', inUse, next, reason)
  if (ctx.health(primary)?.state === 'healthy') return switchTo(ctx, 'failover-recovered', inUse, primary, 'secondary-failed')
  return noHealthy(ctx, inUse, s?.since ?? active.since)
}

function decideRoundRobin (ctx: Ctx): FailoverAction | null {
  const { domain, st, dns, now } = ctx
  // Without the current records there is nothing to compare with: the shell reads them first.
  if (dns === undefined) return null
  const present = new Set(dns)
  const removed: string[] = []
  const restored: string[] = []
  for (const id of new Set(domain.serverIds)) {
    const h = ctx.health(id)
    if (h === undefined) continue
    if (present.has(h.ip)) {
      if (h.state !== 'healthy') removed.push(id)
    } else if (isStable(ctx, id)) {
      restored.push(id)
    }
  }
  const ipOf = (id: string): string => (ctx.health(id) as ServerHealth).ip
  const removedIps = new Set(removed.map(ipOf))
  const left = [...present].filter(ip => !removedIps.has(ip)).length + restored.length
  if (left === 0) {
    // Every address in the record is failed: keep them (an empty record is worse) and say so.
    const latest = removed.map(id => ({ id, since: (ctx.health(id) as ServerHealth).since })).sort((a, b) => b.since - a.since)[0]
    return latest === undefined ? null : noHealthy(ctx, latest.id, latest.since)
  }
  if (removed.length === 0 && restored.length === 0) return null
  const op = (kind: 'add' | 'remove', id: string): DnsOp => ({ op: kind, zone: domain.failover.zone, record: domain.failover.record, ip: ipOf(id) })
  return {
    type: 'round-robin-update',
    domainId: domain.id,
    removed,
    restored,
    // Adds first: the record never shrinks below what it will end up with.
    dns: [...restored.map(id => op('add', id)), ...removed.map(id => op('remove', id))],
    state: { ...st, lastSwitchAt: now }
  }
}

/** Healthy for at least the hold-down, without interruption. */
function isStable (ctx: Ctx, id: string): boolean {
  const h = ctx.health(id)
  return h !== undefined && h.state === 'healthy' && ctx.now - h.since >= ctx.holdDownMs
}

function firstHealthySecondary (ctx: Ctx, except: string | null): string | null {
  return ctx.domain.serverIds.slice(1).find(id => id !== except && ctx.health(id)?.state === 'healthy') ?? null
}

function switchTo (ctx: Ctx, type: 'failover-triggered' | 'failover-recovered', from: string, to: string, reason: Extract<FailoverAction, { type: 'failover-triggered' }>['reason']): FailoverAction {
  const { domain, st, now } = ctx
  const primary = domain.serverIds[0] as string
  const ip = (ctx.health(to) as ServerHealth).ip
  return {
    type,
    domainId: domain.id,
    from,
    to,
    reason,
    dns: [{ op: 'set', zone: domain.failover.zone, record: domain.failover.record, ip }],
    state: { ...st, active: to === primary ? null : { from: primary, to, since: now }, lastSwitchAt: now }
  }
}

/** The record should hold exactly `target`'s address; rewrite it when it visibly does not. */
function repair (ctx: Ctx, target: string): FailoverAction | null {
  const { domain, st, dns } = ctx
  const ip = ctx.health(target)?.ip
  if (dns === undefined || ip === undefined || (dns.length === 1 && dns[0] === ip)) return null
  return {
    type: 'dns-repair',
    domainId: domain.id,
    to: target,
    dns: [{ op: 'set', zone: domain.failover.zone, record: domain.failover.record, ip }],
    state: st
  }
}

/** One event per failure: `failureSince` identifies it. */
function noHealthy (ctx: Ctx, failed: string, failureSince: number): FailoverAction | null {
  const { domain, st } = ctx
  if (st.reportedNoHealthy === failureSince) return null
  return { type: 'no-healthy-secondary', domainId: domain.id, failed, dns: [], state: { ...st, reportedNoHealthy: failureSince } }
}
