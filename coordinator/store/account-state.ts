// Write-through, in-memory mirror of each account's config records (account, servers,
// domains, its hostnames, version head). Loaded once from LevelDB on an account's first
// change, then updated only after a change's batch is durably written: a failed write
// leaves it untouched, and a restart rebuilds it from the store. It spares every change of
// a 10 000-domain account from re-reading all its records, and keeps the wire form of its
// domains sorted, ready for the next ConfigVersion.
import type { Domain } from '../../proto/codec.ts'
import type { Account, DomainRecord, ServerRecord, VersionHead } from '../model.ts'
import type { CoordinatorStore, StoreOp } from './store.ts'

const byHostname = (a: Domain, b: Domain): number => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0

/** The wire Domain of a record: bookkeeping dropped, aliases sorted. */
export function wireDomain (record: DomainRecord): Domain {
  const { accountId: _a, createdAt: _c, updatedAt: _u, ...domain } = record
  return { ...domain, aliases: [...record.aliases].sort() }
}

/**
 * One account as stored. Records are shared with callers: treat them as immutable and
 * replace them through ops. Only `apply()` changes it, after the ops are durable.
 */
export class AccountRecords {
  readonly accountId: string
  account: Account
  head: VersionHead | undefined
  private readonly serversById: Map<string, ServerRecord>
  private readonly domainsById: Map<string, DomainRecord>
  /** hostname or alias → domain id, for this account's domains only. */
  private readonly hostnames = new Map<string, string>()
  /** Wire domains sorted by hostname (unique), as the next ConfigVersion lists them. */
  private sortedWire: Domain[]
  private serverList: ServerRecord[] | undefined
  private domainList: DomainRecord[] | undefined

  constructor (account: Account, servers: ServerRecord[], domains: DomainRecord[], head: VersionHead | undefined) {
    this.accountId = account.id
    this.account = account
    this.head = head
    this.serversById = new Map(servers.map(s => [s.id, s]))
    this.domainsById = new Map(domains.map(d => [d.id, d]))
    for (const d of domains) this.claim(d)
    this.sortedWire = domains.map(wireDomain).sort(byHostname)
  }

  static async load (store: CoordinatorStore, accountId: string): Promise<AccountRecords | undefined> {
    const [account, servers, domains, head] = await Promise.all([
      store.getAccount(accountId), store.listServers(accountId), store.listDomains(accountId), store.getHead(accountId)
    ])
    return account === undefined ? undefined : new AccountRecords(account, servers, domains, head)
  }

  get servers (): ServerRecord[] { return (this.serverList ??= [...this.serversById.values()]) }
  get domains (): DomainRecord[] { return (this.domainList ??= [...this.domainsById.values()]) }
  domain (id: string): DomainRecord | undefined { return this.domainsById.get(id) }
  /** The id of this account's domain serving `hostname` (as hostname or alias). */
  hostnameOwner (hostname: string): string | undefined { return this.hostnames.get(hostname) }

  /** The sorted wire domains once `ops` are applied; this object is left unchanged. */
  wireDomainsWith (ops: StoreOp[]): Domain[] {
    const changed = new Map<string, DomainRecord>()
    for (const op of ops) if (op.type === 'domain' && op.value.accountId === this.accountId) changed.set(op.value.id, op.value)
    if (changed.size === 0) return this.sortedWire
    let reorder = false
    const next = this.sortedWire.map(d => {
      const record = changed.get(d.id)
      if (record === undefined) return d
      changed.delete(d.id)
      if (record.hostname !== d.hostname) reorder = true
      return wireDomain(record)
    })
    for (const record of changed.values()) next.push(wireDomain(record))
    // Appended or renamed domains only: the sort is near-linear on an almost sorted array.
    return reorder || changed.size > 0 ? next.sort(byHostname) : next
  }

  /** Takes in the ops of a durably written batch; `wire` is wireDomainsWith(ops). */
  apply (ops: StoreOp[], wire: Domain[]): void {
    for (const op of ops) {
      switch (op.type) {
        case 'account': if (op.value.id === this.accountId) this.account = op.value; break
        case 'server': if (op.value.accountId === this.accountId) { this.serversById.set(op.value.id, op.value); this.serverList = undefined } break
        case 'domain':
          if (op.value.accountId !== this.accountId) break
          this.release(this.domainsById.get(op.value.id))
          this.domainsById.set(op.value.id, op.value)
          this.claim(op.value)
          this.domainList = undefined
          break
        case 'head': if (op.accountId === this.accountId) this.head = op.value; break
      }
    }
    this.sortedWire = wire
  }

  private claim (d: DomainRecord): void {
    for (const name of [d.hostname, ...d.aliases]) this.hostnames.set(name, d.id)
  }

  private release (d: DomainRecord | undefined): void {
    if (d === undefined) return
    for (const name of [d.hostname, ...d.aliases]) if (this.hostnames.get(name) === d.id) this.hostnames.delete(name)
  }
}

/** The loaded accounts, each read from the store once. */
export class AccountStateCache {
  private readonly store: CoordinatorStore
  private readonly accounts = new Map<string, AccountRecords>()

  constructor (store: CoordinatorStore) {
    this.store = store
  }

  async get (accountId: string): Promise<AccountRecords | undefined> {
    const cached = this.accounts.get(accountId)
    if (cached !== undefined) return cached
    const loaded = await AccountRecords.load(this.store, accountId)
    if (loaded !== undefined) this.accounts.set(accountId, loaded)
    return loaded
  }

  /** Forgets an account (e.g. after a write whose outcome is unknown): the next get() reloads it. */
  drop (accountId: string): void {
    this.accounts.delete(accountId)
  }
}
