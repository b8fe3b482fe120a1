// Turns every accepted change into the next signed ConfigVersion of its account.
// One change per account at a time: the change's records, the signed envelope and the new
// head are written in one fsynced batch, then the envelope is published to the mesh.
// Account records are read from LevelDB once per account and then mirrored in memory
// (store/account-state.ts), updated only once a batch is durable: every change to an
// account's config records must go through commit() for the mirror to stay exact.
import type { Logger } from 'pino'
import type { ConfigVersion, Domain, SignedEnvelope } from '../proto/codec.ts'
import { encodeEnvelope, payloadHash, signEncodedConfig, type SigningKey } from '../proto/envelope.ts'
import { encodeConfigVersion } from './config-encoding.ts'
import type { Account, DomainRecord, ServerRecord, VersionHead } from './model.ts'
import { AccountStateCache, wireDomain } from './store/account-state.ts'
import type { CoordinatorStore, StoreOp } from './store/store.ts'

/**
 * What a change sees of its account: the stored records, shared with the in-memory mirror
 * (coordinator/store/account-state.ts), so never mutated; changes return ops instead.
 */
export interface AccountState {
  accountId: string
  account: Account
  servers: ServerRecord[]
  domains: DomainRecord[]
  /** The domain of this account with that id. */
  domain: (id: string) => DomainRecord | undefined
  /** The id of this account's domain serving `hostname` (as hostname or alias). */
  hostnameOwner: (hostname: string) => string | undefined
}

type ConfigSource = Pick<AccountState, 'accountId' | 'account' | 'servers'>

/** Pure: the ConfigVersion of an account whose wire domains are already sorted by hostname. */
function configVersionOf (state: ConfigSource, sortedDomains: Domain[], version: number, previousHash: Uint8Array, issuedAtMs: number): ConfigVersion {
  return {
    accountId: state.accountId,
    version,
    previousHash,
    issuedAtMs,
    servers: state.servers.filter(s => s.cutAt == null).sort(byId).map(s => ({
      id: s.id, name: s.name, peerId: s.peerId, multiaddrs: [...s.multiaddrs].sort(), publicIp: s.publicIp, status: s.status
    })),
    domains: sortedDomains,
    accountIpBlacklist: [...state.account.ipBlacklist].sort(),
    challengeKey: Buffer.from(state.account.challengeKey, 'base64')
  }
}

function byId<T extends { id: string }> (a: T, b: T): number { return a.id < b.id ? -1 : a.id > b.id ? 1 : 0 }

/** Pure: the ConfigVersion that describes `state`. Sorted so equal states encode equally. */
export function buildConfigVersion (state: ConfigSource & { domains: DomainRecord[] }, version: number, previousHash: Uint8Array, issuedAtMs: number): ConfigVersion {
  const domains = state.domains.map(wireDomain).sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)
  return configVersionOf(state, domains, version, previousHash, issuedAtMs)
}

/** Servers and account of `state` with the ops of a change applied (the domains are handled by AccountRecords). */
function applyOps (state: AccountState, ops: StoreOp[]): ConfigSource {
  let servers = state.servers
  if (ops.some(op => op.type === 'server')) {
    const byServerId = new Map(state.servers.map(s => [s.id, s]))
    for (const op of ops) if (op.type === 'server') byServerId.set(op.value.id, op.value)
    servers = [...byServerId.values()]
  }
  const account = ops.findLast(op => op.type === 'account')?.value ?? state.account
  return { accountId: state.accountId, account, servers }
}

/** Signs with a key that may change (coordinator/signer.ts CoordinatorSigner). */
export interface VersionSigner {
  sign: (config: ConfigVersion) => SignedEnvelope
  /** Signs encoded ConfigVersion bytes; lets changes reuse the encoding of untouched domains. */
  signEncoded?: (raw: Uint8Array) => SignedEnvelope
}

/** Signs `config`, encoding it incrementally (config-encoding.ts) when the signer takes bytes. */
function signVersion (signingKey: SigningKey | VersionSigner, config: ConfigVersion): SignedEnvelope {
  if (!('sign' in signingKey)) return signEncodedConfig(encodeConfigVersion(config), signingKey)
  if (signingKey.signEncoded === undefined) return signingKey.sign(config)
  return signingKey.signEncoded(encodeConfigVersion(config))
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
  /** Each account's records, read once; changed only after their batch is durable. */
  private readonly accounts: AccountStateCache

  constructor (init: ConfigVersionsInit) {
    this.init = init
    this.accounts = new AccountStateCache(init.store)
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
    const state = await this.accounts.get(accountId)
    if (state === undefined) throw new Error(`account ${accountId} vanished during a change`)
    const { ops, result } = await change(state)
    const head = state.head
    const version = (head?.version ?? 0) + 1
    const previousHash = head === undefined ? new Uint8Array() : Buffer.from(head.hash, 'hex')
    const domains = state.wireDomainsWith(ops)
    const config = configVersionOf(applyOps(state, ops), domains, version, previousHash, now())
    const signed = signVersion(signingKey, config)
    const envelope = encodeEnvelope(signed)
    const newHead: VersionHead = { version, hash: Buffer.from(payloadHash(signed.payload)).toString('hex') }
    const batch: StoreOp[] = [...ops, { type: 'version', accountId, version, envelope }, { type: 'head', accountId, value: newHead }]
    try {
      await store.write(batch)
    } catch (err) {
      // LevelDB batches are atomic, but reload from the store rather than trust a guess.
      this.accounts.drop(accountId)
      throw err
    }
    state.apply(batch, domains)
    logger.info({ account: accountId, version, bytes: envelope.length }, 'config version signed')
    this.init.publish(accountId, envelope).catch(err => {
      logger.warn({ err, account: accountId, version }, 'publish failed; nodes will catch up through sync')
    })
    return result
  }
}
