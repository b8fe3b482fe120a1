// Ends the grace period of decommissioned servers: once it has passed, the server leaves
// the next signed version (nodes then disconnect it and their gaters refuse it) and the
// coordinator cuts its peer too. Runs at start and on an interval, so a restart loses nothing.
import type { Logger } from 'pino'
import type { ConfigVersions } from './config-versions.ts'
import type { ServerRecord } from './model.ts'
import type { CoordinatorStore } from './store/store.ts'

export const DEFAULT_DECOMMISSION_GRACE_MS = 60 * 60 * 1000
const SWEEP_INTERVAL_MS = 5000

export interface DecommissionSweeperInit {
  store: CoordinatorStore
  versions: ConfigVersions
  graceMs: number
  now: () => number
  /** Cuts the peer of a server whose grace ended. */
  cutPeer: (peerId: string) => void
  logger: Logger
}

/** Pure: the servers whose grace period has ended and that are still in the config. */
export function graceEnded (servers: ServerRecord[], graceMs: number, now: number): ServerRecord[] {
  return servers.filter(s => s.status === 'decommissioned' && s.cutAt == null && s.decommissionedAt != null &&
    Date.parse(s.decommissionedAt) + graceMs <= now)
}

export class DecommissionSweeper {
  private readonly init: DecommissionSweeperInit
  private timer: NodeJS.Timeout | undefined

  constructor (init: DecommissionSweeperInit) {
    this.init = init
  }

  start (): void {
    const tick = (): void => { this.sweep().catch(err => this.init.logger.error({ err }, 'decommission sweep failed; retrying next tick')) }
    tick()
    this.timer = setInterval(tick, Math.min(SWEEP_INTERVAL_MS, Math.max(100, this.init.graceMs / 2)))
  }

  stop (): void {
    clearInterval(this.timer)
  }

  async sweep (): Promise<void> {
    const { store, versions, graceMs, now } = this.init
    for (const account of await store.listAccounts()) {
      if (graceEnded(await store.listServers(account.id), graceMs, now()).length === 0) continue
      const cut = await versions.commit(account.id, async (state) => {
        const due = graceEnded(state.servers, graceMs, now())
        const cutAt = new Date(now()).toISOString()
        return { ops: due.map(server => ({ type: 'server' as const, value: { ...server, cutAt } })), result: due }
      })
      for (const server of cut) {
        if (server.peerId !== '') this.init.cutPeer(server.peerId)
        this.init.logger.info({ account: account.id, server: server.id, peer: server.peerId }, 'decommission grace ended; server removed from the config and cut')
      }
    }
  }
}
