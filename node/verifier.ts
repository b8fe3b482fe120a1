// Pure checks that decide whether a verified ConfigVersion may be applied by this node:
// its account, and strict monotonicity against what the node already holds.
// (Signature verification happens before, in proto/envelope.ts.)
import type { ConfigVersion } from '../proto/codec.ts'
import { LumosError } from '../proto/lumos-error.ts'

export function checkCandidate (config: Pick<ConfigVersion, 'accountId' | 'version'>, accountId: string, latestVersion: number): void {
  if (config.accountId !== accountId) {
    throw new LumosError('WRONG_ACCOUNT', `config version for account ${config.accountId}, but this node belongs to ${accountId}`)
  }
  if (config.version <= latestVersion) {
    throw new LumosError('STALE_VERSION', `config version ${config.version} is not newer than held version ${latestVersion}`)
  }
}
