// Pure: is the step from the config HAProxy runs to the next one only a move of origins
// (address, port, weight) of a few domains? That is the common runtime change, and the
// apply path can then plan it from those domains' backends alone instead of rendering and
// hashing the whole config (node/apply/config-applier.ts). Domains are compared by
// identity first: proto/config-decoder.ts hands out the same object, in the same place,
// for a domain whose bytes did not change.
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
  // By position: an edit keeps every domain where it was (the decoder reuses them in place);
  // a reordered account takes the full way, which renders the same config.
  const pairs: Array<[Domain, Domain]> = []
  for (const [i, domain] of after.domains.entries()) {
    const old = before.domains[i]!
    if (old === domain) continue
    if (pairs.length === ORIGIN_CHANGE_MAX_DOMAINS || old.id !== domain.id || !onlyOriginsMoved(old, domain)) return undefined
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
