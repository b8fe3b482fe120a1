// Host-keyed map files (hosts.map, waf.map, bot-block.map, bot-challenge.map): one line
// "<host> <value>" per hostname and alias of the domains concerned, sorted as plain strings.
// At 10 000 domains × aliases that is ~40 000 lines per map; building the lines and sorting
// them (V8 compares concatenated strings slowly) took most of the render time, so the hosts
// are sorted once per render (HostIndex) and every map is a linear walk of that order.
import type { Domain } from '../../proto/codec.ts'

interface HostEntry { host: string, domain: Domain }

/** Every host (hostname, then aliases; repeats within a domain dropped) of some domains, in line order. */
export interface HostIndex {
  readonly domains: readonly Domain[]
  readonly entries: readonly HostEntry[]
  /**
   * True when every host is made of characters above the space: then "<host> <value>"
   * lines sort as their hosts do (a host that is a prefix of another sorts first either
   * way), and only lines of one repeated host need their values compared.
   */
  readonly byHost: boolean
}

/** Characters at or below the space would make the line order differ from the host order. */
const LOW_CHAR = /[\x00-\x20]/

const compareStrings = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

export function hostIndex (domains: readonly Domain[]): HostIndex {
  const entries: HostEntry[] = []
  let byHost = true
  for (const domain of domains) {
    const first = entries.length
    for (const host of [domain.hostname, ...domain.aliases]) {
      let repeated = false
      for (let i = first; i < entries.length && !repeated; i++) repeated = entries[i]!.host === host
      if (repeated) continue
      if (byHost && LOW_CHAR.test(host)) byHost = false
      entries.push({ host, domain })
    }
  }
  if (byHost) entries.sort((a, b) => compareStrings(a.host, b.host))
  return { domains, entries, byHost }
}

/**
 * The map text: "<host> <value>\n" for every host of the domains `value` gives a value for
 * (undefined leaves the domain out), sorted; '' when there is none.
 */
export function hostMapText (index: HostIndex, value: (domain: Domain) => string | number | undefined): string {
  if (!index.byHost) {
    const lines: string[] = []
    for (const { host, domain } of index.entries) {
      const v = value(domain)
      if (v !== undefined) lines.push(`${host} ${v}`)
    }
    return lines.length === 0 ? '' : `${lines.sort().join('\n')}\n`
  }
  // Appended to one string (a rope, copied once when first read): cheaper than joining 40 000 lines.
  let text = ''
  const entries = index.entries
  for (let i = 0; i < entries.length;) {
    let end = i + 1
    while (end < entries.length && entries[end]!.host === entries[i]!.host) end++
    if (end === i + 1) {
      const v = value(entries[i]!.domain)
      if (v !== undefined) { text += entries[i]!.host; text += ' '; text += v; text += '\n' }
    } else {
      // One host repeated by several domains: its lines sort by value.
      const run: string[] = []
      for (let j = i; j < end; j++) {
        const v = value(entries[j]!.domain)
        if (v !== undefined) run.push(`${entries[j]!.host} ${v}`)
      }
      for (const line of run.sort()) { text += line; text += '\n' }
    }
    i = end
  }
  return text
}
