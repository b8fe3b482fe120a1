// Pure: is the step from the config HAProxy runs to the next one only a move of origins
// (address, port, weight) of a few domains? That is the common runtime change, and the
// apply path can then plan it from those domains' backends alone instead of rendering and
// hashing the whole config (node/apply/config-applier.ts). Domains are compared by
// identity first: proto/config-decoder.ts hands out the same frozen object for a domain
// whose bytes did not change.
import type { ConfigVersion, Domain, Origin } from '../../proto/codec.ts'

/** More changed domains than this go the full way (render, diff): the pairwise checks stop paying. */
export const ORIGIN_CHANGE_MAX_DOMAINS = 16

/**
 * The [before, after] pairs of the domains whose origins moved, when that is all that
 * changed between `before` and `after`; [] when nothing changed; undefined otherwise
 * (a domain added, removed or changed in anything else, any account-level field).
 */
export function originOnlyChanges (before: ConfigVersion, after: ConfigVersion): Array<[Domain, Domain]> | undefined {
  if (before.domains.length !== after.domains.length || !sameAccountFields(before, after)) return undefined
  const previous = new Set(before.domains)
  const changed = after.domains.filter(domain => !previous.has(domain))
  if (changed.length > ORIGIN_CHANGE_MAX_DOMAINS) return undefined
  if (changed.length === 0) return []
  const current = new Set(after.domains)
  const replaced = new Map(before.domains.filter(domain => !current.has(domain)).map(domain => [domain.id, domain]))
  const pairs: Array<[Domain, Domain]> = []
  for (const domain of changed) {
    const old = replaced.get(domain.id)
    if (old === undefined || !onlyOriginsMoved(old, domain)) return undefined
    replaced.delete(domain.id)
    pairs.push([old, domain])
  }
  return pairs
}

function sameAccountFields (a: ConfigVersion, b: ConfigVersion): boolean {
  return a.accountId === b.accountId &&
    Buffer.compare(a.challengeKey, b.challengeKey) === 0 &&
    JSON.stringify(a.accountIpBlacklist) === JSON.stringify(b.accountIpBlacklist) &&
    JSON.stringify(a.servers) === JSON.stringify(b.servers)
}

function onlyOriginsMoved (a: Domain, b: Domain): boolean {
  if (a.origins.length !== b.origins.length) return false
  if (JSON.stringify({ ...a, origins: [] }) !== JSON.stringify({ ...b, origins: [] })) return false
  return a.origins.every((origin, i) => JSON.stringify(unplaced(origin)) === JSON.stringify(unplaced(b.origins[i]!)))
}

/** An origin without what the runtime API can change. */
function unplaced (origin: Origin): Partial<Origin> {
  const { address: _address, port: _port, weight: _weight, ...rest } = origin
  return rest
}
