// IP blacklists of a node: clients whose address is in the account-wide list or in a
// domain's own list get 403 from that domain (with its 403 page).
//
// Layout: every list of the node is merged into two maps matched once in the shared
// frontend, and each backend only denies on the outcome (txn.bl_hit). A per-domain ACL
// file (`src -f acl/bl-<id>.acl` in each backend, the earlier layout) costs HAProxy 2.6 a
// walk of every pattern reference of the config per file while parsing — quadratic in the
// domain count: ~30 s of CPU at 10 000 domains for `haproxy -c` and for every reload.
//  - maps/blacklist.map (map_ip): address or CIDR block → the id of the set of lists that
//    cover it. map_ip answers with the most specific entry containing the client (longest
//    prefix), so an entry's set holds its own lists and those of every wider entry
//    containing it. Set ids are a hash of the set: stable while the set is unchanged.
//  - maps/blacklist-sets.map: "<set id>|<backend>" → 1 for each domain in the set, and
//    "<set id>|*" → 1 when the account-wide list is in it.
// Adding or removing an entry is therefore `add/set/del map` through the runtime API,
// never a reload.
import { hash } from 'node:crypto'
import { isIP } from 'node:net'
import type { ConfigVersion, Domain } from '../../proto/codec.ts'
import { BLACKLIST_MAP, BLACKLIST_SETS_MAP, backendName, inRunDir } from './layout.ts'
import type { DomainRules, FrontendRules, RuleContext, RuleModule } from './rules.ts'

/** Set in the frontend to the id of the set of lists that contain the client. */
export const BLACKLIST_SET_VAR = 'txn.bl'
/** Set in the frontend when the set holds the account list or the list of the request's domain. */
export const BLACKLIST_HIT_VAR = 'txn.bl_hit'
/** Stands for the account-wide list in a set: it applies to every domain. */
export const ACCOUNT_LIST = '*'

interface Network { family: 4 | 6, bits: bigint, prefix: number }

/** The network of an address or CIDR block ("203.0.113.0/24", "2001:db8::/32"), undefined when unreadable. */
export function parseNetwork (entry: string): Network | undefined {
  const [address = '', prefixText, extra] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || extra !== undefined) return undefined
  const width = family === 4 ? 32 : 128
  const prefix = prefixText === undefined ? width : Number(prefixText)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > width) return undefined
  const value = family === 4 ? ipv4Value(address) : ipv6Value(address)
  if (value === undefined) return undefined
  return { family: family as 4 | 6, bits: maskTo(value, width, prefix), prefix }
}

function ipv4Value (address: string): bigint {
  // Number arithmetic, one BigInt at the end: the common case, 30 000 times at 10 000 domains.
  let value = 0
  for (const octet of address.split('.')) value = value * 256 + Number(octet)
  return BigInt(value)
}

function ipv6Value (address: string): bigint | undefined {
  let text = address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    const n = ipv4Value(v4[1]!)
    text = `${text.slice(0, v4.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  if (groups.length !== 8) return undefined
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(`0x${group}`), 0n)
}

function maskTo (value: bigint, width: number, prefix: number): bigint {
  const hostBits = BigInt(width - prefix)
  return (value >> hostBits) << hostBits
}

/**
 * Identity of a network in the entry table: a number for IPv4 (prefix and address fit a
 * double exactly; the common case, kept off BigInt), a string for IPv6.
 */
type NetworkKey = number | string
function networkKey (family: number, prefix: number, bits: bigint): NetworkKey {
  return family === 4 ? prefix * 2 ** 32 + Number(bits) : `6/${prefix}/${bits}`
}

function maskedKey (net: Network, prefix: number): NetworkKey {
  if (net.family === 4) {
    const hostBits = 32 - prefix
    // >>> 32 would be a no-op in JS: a /0 keeps no bit.
    const bits = prefix === 0 ? 0 : ((Number(net.bits) >>> hostBits) * 2 ** hostBits)
    return prefix * 2 ** 32 + bits
  }
  return networkKey(6, prefix, maskTo(net.bits, 128, prefix))
}

/** The set id of a sorted list of list names: short, and the same for the same set in every version. */
function setId (name: string): string {
  // One-shot hash(): a createHash object per set cost more than the hashing at 10 000 sets.
  return `s${hash('sha256', name, 'hex').slice(0, 12)}`
}

/** `lists` without repeats; `seen` indexes it once it grows past a few (one list can name an address in every domain). */
interface BlacklistEntry { key: string, net: Network | undefined, lists: string[], seen: Set<string> | undefined }

function addList (entry: BlacklistEntry, list: string): void {
  if (entry.seen !== undefined ? entry.seen.has(list) : entry.lists.includes(list)) return
  entry.lists.push(list)
  if (entry.seen !== undefined) entry.seen.add(list)
  else if (entry.lists.length > 8) entry.seen = new Set(entry.lists)
}

/**
 * maps/blacklist.map and maps/blacklist-sets.map (see the header), both sorted. Unreadable
 * entries (the coordinator validates, so none are expected) keep only their own lists:
 * HAProxy will say why it refuses them.
 */
export function blacklistMaps (config: ConfigVersion, domains: readonly Domain[]): { map: string, sets: string } {
  // network → its first spelling (in sort order) and the lists naming it exactly, without repeats
  const entries = new Map<NetworkKey, BlacklistEntry>()
  const add = (list: string, values: readonly string[]): void => {
    for (const raw of values) {
      const key = raw.trim().toLowerCase()
      if (key === '') continue
      const net = parseNetwork(key)
      const id = net === undefined ? `?${key}` : networkKey(net.family, net.prefix, net.bits)
      const entry = entries.get(id)
      if (entry === undefined) {
        entries.set(id, { key, net, lists: [list], seen: undefined })
      } else {
        if (key < entry.key) entry.key = key
        addList(entry, list)
      }
    }
  }
  add(ACCOUNT_LIST, config.accountIpBlacklist)
  for (const domain of domains) if (domain.waf.ipBlacklist.length > 0) add(backendName(domain), domain.waf.ipBlacklist)
  const prefixes = { 4: new Set<number>(), 6: new Set<number>() }
  for (const { net } of entries.values()) if (net !== undefined) prefixes[net.family].add(net.prefix)
  const mapLines: string[] = []
  const sets = new Map<string, string[]>()
  const ids = new Map<string, string>()
  for (const entry of entries.values()) {
    let covering: Set<string> | undefined
    const net = entry.net
    if (net !== undefined) {
      for (const prefix of prefixes[net.family]) {
        if (prefix >= net.prefix) continue
        const wider = entries.get(maskedKey(net, prefix))
        if (wider === undefined) continue
        covering ??= new Set(entry.lists)
        for (const list of wider.lists) covering.add(list)
      }
    }
    const members = covering === undefined ? (entry.lists.length === 1 ? entry.lists : [...entry.lists].sort()) : [...covering].sort()
    const name = members.join(',')
    let id = ids.get(name)
    if (id === undefined) {
      id = setId(name)
      ids.set(name, id)
      sets.set(id, members)
    }
    mapLines.push(`${entry.key} ${id}`)
  }
  const setLines: string[] = []
  for (const [id, members] of sets) for (const member of members) setLines.push(`${id}|${member} 1`)
  const text = (lines: string[]): string => lines.length === 0 ? '' : `${lines.sort().join('\n')}\n`
  return { map: text(mapLines), sets: text(setLines) }
}

/** Once per node: the maps and the frontend lookups (rendered even when empty, so entries can be added at run time). */
export function blacklistFrontendRules (config: ConfigVersion, domains: readonly Domain[], ctx: RuleContext): FrontendRules {
  const { map, sets } = blacklistMaps(config, domains)
  const setsMap = inRunDir(ctx.runDir, BLACKLIST_SETS_MAP)
  return {
    frontendLines: [
      `http-request set-var(${BLACKLIST_SET_VAR}) src,map_ip(${inRunDir(ctx.runDir, BLACKLIST_MAP)})`,
      `http-request set-var(${BLACKLIST_HIT_VAR}) bool(true) if { var(${BLACKLIST_SET_VAR}),concat(|${ACCOUNT_LIST}),map(${setsMap}) -m found } || { var(${BLACKLIST_SET_VAR}),concat(|,txn.site),map(${setsMap}) -m found }`
    ],
    files: { [BLACKLIST_MAP]: map, [BLACKLIST_SETS_MAP]: sets }
  }
}

const BLACKLIST_RULES: DomainRules = Object.freeze({
  backendLines: Object.freeze([`http-request deny deny_status 403 if { var(${BLACKLIST_HIT_VAR}) -m bool }`]) as string[],
  files: Object.freeze({})
})

/** Per backend: 403 when the frontend found the client in the account list or the domain's own. */
export const blacklistRules: RuleModule = (): DomainRules => BLACKLIST_RULES
