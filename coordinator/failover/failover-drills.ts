// Failover drills (POST /v1/accounts/:id/domains/:did/drill): for N seconds the engine
// treats a domain's primary as down — for that domain only — so DNS really moves to the
// secondary, and moves back once the primary has been healthy for the hold-down after the
// drill ended. Pure: the health a drilled domain's decision sees. Drills live in memory: a
// coordinator restarted mid-drill fails back after the hold-down like after a real outage.
import type { ServerHealth } from './types.ts'

export interface FailoverDrill {
  accountId: string
  domainId: string
  /** The primary when the drill started. */
  serverId: string
  startedAt: number
  until: number
}

/**
 * The servers' health as `drill`'s domain sees it at `now`: its primary down since the
 * drill started, until the drill ends; afterwards healthy (if it really is) only from the
 * drill's end, so the hold-down counts from there.
 */
export function drilledHealth (servers: Readonly<Record<string, ServerHealth>>, drill: FailoverDrill, now: number): Record<string, ServerHealth> {
  const real = Object.hasOwn(servers, drill.serverId) ? servers[drill.serverId] : undefined
  if (real === undefined) return { ...servers }
  const seen: ServerHealth = now < drill.until
    ? { ...real, state: 'down', since: drill.startedAt }
    : real.state === 'healthy' ? { ...real, since: Math.max(real.since, drill.until) } : real
  return { ...servers, [drill.serverId]: seen }
}

/** A finished drill is forgotten once its failback is certainly decided. */
export function drillExpired (drill: FailoverDrill, now: number, holdDownMs: number): boolean {
  return now > drill.until + 2 * holdDownMs + 10_000
}
