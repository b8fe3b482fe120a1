// LevelDB store of the coordinator: accounts, API keys, servers, domains and the signed
// config versions of each account. Every write that the API acknowledges goes through
// `write()` as one atomic, fsynced batch, so a crash never leaves a change half-stored.
import { Level } from 'level'
import type { Account, ApiKeyRecord, DomainRecord, ServerRecord, VersionHead } from '../model.ts'

type Sublevel = ReturnType<Level<string, unknown>['sublevel']>

/** A typed view of one sublevel (a table). */
export class Table<V> {
  readonly sub: Sublevel
  constructor (sub: Sublevel) { this.sub = sub }
  async get (key: string): Promise<V | undefined> { return await this.sub.get(key) as V | undefined }
  /** Durable (fsynced) single write. */
  async put (key: string, value: V): Promise<void> { await this.sub.put(key, value, { sync: true } as never) }
  async del (key: string): Promise<void> { await this.sub.del(key, { sync: true } as never) }
  async list (range: { gt?: string, lt?: string } = {}): Promise<V[]> {
    const out: V[] = []
    for await (const value of this.sub.values(range)) out.push(value as V)
    return out
  }
}

export type StoreOp =
  | { type: 'account', value: Account }
  | { type: 'apiKey', hash: string, value: ApiKeyRecord }
  | { type: 'server', value: ServerRecord }
  | { type: 'serverToken', hash: string, accountId: string, serverId: string }
  | { type: 'domain', value: DomainRecord }
  | { type: 'hostname', hostname: string, accountId: string, domainId: string }
  | { type: 'hostnameRelease', hostname: string }
  | { type: 'version', accountId: string, version: number, envelope: Uint8Array }
  | { type: 'head', accountId: string, value: VersionHead }
  | { type: 'signingKey', pem: string }
  /** A rotation: the new signing key and every rotation statement so far (base64 SignedKeyRotation), together. */
  | { type: 'keyRotation', pem: string, rotations: string[] }

const accountRange = (accountId: string): { gt: string, lt: string } => ({ gt: `${accountId}!`, lt: `${accountId}!\xff` })
const versionKey = (accountId: string, version: number): string => `${accountId}!${String(version).padStart(16, '0')}`

export class CoordinatorStore {
  private readonly db: Level<string, unknown>
  private readonly accounts: Table<Account>
  private readonly apiKeys: Table<ApiKeyRecord>
  private readonly servers: Table<ServerRecord>
  private readonly serverTokens: Table<{ accountId: string, serverId: string }>
  private readonly domains: Table<DomainRecord>
  private readonly hostnames: Table<{ accountId: string, domainId: string }>
  private readonly versions: Table<Uint8Array>
  private readonly heads: Table<VersionHead>
  private readonly meta: Table<string>

  constructor (location: string) {
    this.db = new Level<string, unknown>(location, { valueEncoding: 'json' })
    const json = <V>(name: string): Table<V> => new Table<V>(this.db.sublevel(name, { valueEncoding: 'json' }) as Sublevel)
    this.accounts = json('accounts')
    this.apiKeys = json('api-keys')
    this.servers = json('servers')
    this.serverTokens = json('server-tokens')
    this.domains = json('domains')
    this.hostnames = json('hostnames')
    this.heads = json('heads')
    this.meta = json('meta')
    this.versions = new Table<Uint8Array>(this.db.sublevel('versions', { valueEncoding: 'view' }) as unknown as Sublevel)
  }

  /**
   * A JSON table owned by one module (failover state, notification outbox …), kept apart
   * from the config tables above; names must not collide with theirs.
   */
  table<V> (name: string): Table<V> {
    return new Table<V>(this.db.sublevel(`x-${name}`, { valueEncoding: 'json' }) as Sublevel)
  }

  async open (): Promise<void> { await this.db.open() }
  async close (): Promise<void> { await this.db.close() }

  async getAccount (id: string): Promise<Account | undefined> { return await this.accounts.get(id) }
  async getApiKey (hash: string): Promise<ApiKeyRecord | undefined> { return await this.apiKeys.get(hash) }
  async getServer (accountId: string, id: string): Promise<ServerRecord | undefined> { return await this.servers.get(`${accountId}!${id}`) }
  async getServerToken (hash: string): Promise<{ accountId: string, serverId: string } | undefined> { return await this.serverTokens.get(hash) }
  async getDomain (accountId: string, id: string): Promise<DomainRecord | undefined> { return await this.domains.get(`${accountId}!${id}`) }
  async getHostname (hostname: string): Promise<{ accountId: string, domainId: string } | undefined> { return await this.hostnames.get(hostname) }
  /** Owners of many hostnames in one read (undefined where free), in the order asked. */
  async getHostnames (hostnames: string[]): Promise<Array<{ accountId: string, domainId: string } | undefined>> {
    if (hostnames.length === 0) return []
    return await this.hostnames.sub.getMany(hostnames) as Array<{ accountId: string, domainId: string } | undefined>
  }

  async getHead (accountId: string): Promise<VersionHead | undefined> { return await this.heads.get(accountId) }
  async getSigningKeyPem (): Promise<string | undefined> { return await this.meta.get('signing-key') }
  /** Rotation statements of the signing key, oldest first, as base64 SignedKeyRotation bytes. */
  async getKeyRotations (): Promise<string[]> { return (await this.meta.get('key-rotations') as unknown as string[] | undefined) ?? [] }

  async getVersion (accountId: string, version: number): Promise<Uint8Array | undefined> {
    return await this.versions.get(versionKey(accountId, version))
  }

  async listServers (accountId: string): Promise<ServerRecord[]> { return await this.servers.list(accountRange(accountId)) }
  async listDomains (accountId: string): Promise<DomainRecord[]> { return await this.domains.list(accountRange(accountId)) }
  async listAccounts (): Promise<Account[]> { return await this.accounts.list() }

  /** Applies all ops atomically and durably (fsync) before resolving. */
  async write (ops: StoreOp[]): Promise<void> {
    const batch = this.db.batch()
    for (const op of ops) {
      switch (op.type) {
        case 'account': batch.put(op.value.id, op.value, { sublevel: this.accounts.sub }); break
        case 'apiKey': batch.put(op.hash, op.value, { sublevel: this.apiKeys.sub }); break
        case 'server': batch.put(`${op.value.accountId}!${op.value.id}`, op.value, { sublevel: this.servers.sub }); break
        case 'serverToken': batch.put(op.hash, { accountId: op.accountId, serverId: op.serverId }, { sublevel: this.serverTokens.sub }); break
        case 'domain': batch.put(`${op.value.accountId}!${op.value.id}`, op.value, { sublevel: this.domains.sub }); break
        case 'hostname': batch.put(op.hostname, { accountId: op.accountId, domainId: op.domainId }, { sublevel: this.hostnames.sub }); break
        case 'hostnameRelease': batch.del(op.hostname, { sublevel: this.hostnames.sub }); break
        case 'version': batch.put(versionKey(op.accountId, op.version), op.envelope, { sublevel: this.versions.sub }); break
        case 'head': batch.put(op.accountId, op.value, { sublevel: this.heads.sub }); break
        case 'signingKey': batch.put('signing-key', op.pem, { sublevel: this.meta.sub }); break
        case 'keyRotation':
          batch.put('signing-key', op.pem, { sublevel: this.meta.sub })
          batch.put('key-rotations', op.rotations, { sublevel: this.meta.sub })
          break
      }
    }
    await batch.write({ sync: true } as never)
  }
}
