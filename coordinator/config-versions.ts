// Turns every accepted change into the next signed ConfigVersion of its account.
// One change per account at a time: the change's records, the signed envelope and the new
// head are written in one fsynced batch, then the envelope is published to the mesh.
import type { Logger } from 'pino'
import type { ConfigVersion, SignedEnvelope } from '../proto/codec.ts'
import { encodeEnvelope, payloadHash, signConfigVersion, type SigningKey } from '../proto/envelope.ts'
import type { Account, DomainRecord, ServerRecord, VersionHead } from './model.ts'
import type { CoordinatorStore, StoreOp } from './store/store.ts'

export interface AccountState {
  accountId: string
  account: Account
  servers: ServerRecord[]
  domains: DomainRecord[]
}

/** Pure: the ConfigVersion that describes `state`. Sorted so equal states encode equally. */
export function buildConfigVersion (state: AccountState, version: number, previousHash: Uint8Array, issuedAtMs: number): ConfigVersion {
  const byId = <T extends { id: string }>(a: T, b: T): number => a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  return {
    accountId: state.accountId,
    version,
    previousHash,
    issuedAtMs,
    servers: state.servers.filter(s => s.cutAt == null).sort(byId).map(s => ({
      id: s.id, name: s.name, peerId: s.peerId, multiaddrs: [...s.multiaddrs].sort(), publicIp: s.publicIp, status: s.status
    })),
    domains: [...state.domains].sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0).map(d => {
      const { accountId: _a, createdAt: _c, updatedAt: _u, ...domain } = d
      return { ...domain, aliases: [...d.aliases].sort() }
    }),
    accountIpBlacklist: [...state.account.ipBlacklist].sort(),
    challengeKey: Buffer.from(state.account.challengeKey, 'base64')
  }
}

/** Applies the record ops of a change to a copy of the state. */
function applyOps (state: AccountState, ops: StoreOp[]): AccountState {
  const servers = new Map(state.servers.map(s => [s.id, s]))
  const domains = new Map(state.domains.map(d => [d.id, d]))
  for (const op of ops) {
    if (op.type === 'server') servers.set(op.value.id, op.value)
    if (op.type === 'domain') domains.set(op.value.id, op.value)
  }
  const account = ops.findLast(op => op.type === 'account')?.value ?? state.account
  return { accountId: state.accountId, account, servers: [...servers.values()], domains: [...domains.values()] }
}

/** Signs with a key that may change (coordinator/signer.ts CoordinatorSigner). */
export interface VersionSigner {
  sign: (config: ConfigVersion) => SignedEnvelope
}

export interface ConfigVersionsInit {
  store: CoordinatorStore
  /** A fixed key, or the coordinator's rotating signer. */
  signingKey: SigningKey | VersionSigner
  /** Sends a signed envelope to the account's mesh topic. */
  publish: (accountId: string, envelope: Uint8Array) => Promise<void>
  now: () => number
  logger: Logger
}

export interface Change<R> {
  ops: StoreOp[]
  result: R
}

export class ConfigVersions {
  private readonly init: ConfigVersionsInit
  private readonly locks = new Map<string, Promise<unknown>>()

  constructor (init: ConfigVersionsInit) {
    this.init = init
  }

  /**
   * Runs `change` against the current state of the account, then stores its ops together
   * with the next signed version. Resolves once both are durable; publishing follows.
   */
  async commit<R> (accountId: string, change: (state: AccountState) => Promise<Change<R>>): Promise<R> {
    const previous = this.locks.get(accountId) ?? Promise.resolve()
    const run = previous.catch(() => {}).then(async () => await this.commitNow(accountId, change))
    this.locks.set(accountId, run)
    try {
      return await run
    } finally {
      if (this.locks.get(accountId) === run) this.locks.delete(accountId)
    }
  }

  private async commitNow<R> (accountId: string, change: (state: AccountState) => Promise<Change<R>>): Promise<R> {
    const { store, signingKey, now, logger } = this.init
    const account = await store.getAccount(accountId)
    if (account === undefined) throw new Error(`account ${accountId} vanished during a change`)
    const state: AccountState = { accountId, account, servers: await store.listServers(accountId), domains: await store.listDomains(accountId) }
    const { ops, result } = await change(state)
    const head = await store.getHead(accountId)
    const version = (head?.version ?? 0) + 1
    const previousHash = head === undefined ? new Uint8Array() : Buffer.from(head.hash, 'hex')
    const config = buildConfigVersion(applyOps(state, ops), version, previousHash, now())
    const signed = 'sign' in signingKey ? signingKey.sign(config) : signConfigVersion(config, signingKey)
    const envelope = encodeEnvelope(signed)
    const newHead: VersionHead = { version, hash: Buffer.from(payloadHash(signed.payload)).toString('hex') }
    await store.write([...ops, { type: 'version', accountId, version, envelope }, { type: 'head', accountId, value: newHead }])
    logger.info({ account: accountId, version, bytes: envelope.length }, 'config version signed')
    this.init.publish(accountId, envelope).catch(err => {
      logger.warn({ err, account: accountId, version }, 'publish failed; nodes will catch up through sync')
    })
    return result
  }
}
