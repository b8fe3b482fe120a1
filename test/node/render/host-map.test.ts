// The shared host order of the host maps (node/render/host-map.ts) against its definition:
// "<host> <value>" lines of every host of the domains, sorted as plain strings — including
// the cases the fast path hands to a plain sort (a host repeated by two domains, hosts
// with characters at or below the space). And inRunDir against path.join.
import { join } from 'node:path'
import t from 'tap'
import type { Domain } from '../../../proto/codec.ts'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import { hostIndex, hostMapText } from '../../../node/render/host-map.ts'
import { inRunDir } from '../../../node/render/layout.ts'

const domain = (id: string, hostname: string, aliases: string[] = []): Domain =>
  withDomainDefaults({ id, hostname, aliases, serverIds: ['srv_a'], origins: [] })

function expected (domains: Domain[], value: (d: Domain) => string | number | undefined): string {
  const lines = domains.flatMap(d => value(d) === undefined ? [] : [...new Set([d.hostname, ...d.aliases])].map(h => `${h} ${value(d)}`)).sort()
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

const cases: Array<[string, Domain[]]> = [
  ['hostnames and aliases of several domains', [domain('b', 'b.example.com', ['www.b.example.com', 'b.example.com']), domain('a', 'a.example.com', ['a.example.co'])]],
  ['a host that is the prefix of another', [domain('x', 'shop.example', ['shop.example-eu']), domain('y', 'shop.example.net')]],
  ['a host repeated by two domains', [domain('one', 'same.example.com'), domain('two', 'same.example.com', ['other.example.com'])]],
  ['hosts with a space or a tab', [domain('s', 'a b', ['a', 'a\tb']), domain('t', 'a-b')]],
  ['no domain', []]
]
const values: Array<[string, (d: Domain) => string | number | undefined]> = [
  ['the backend', d => `site_${d.id}`],
  ['a number, some domains left out', d => d.id.length > 1 ? d.id.length * 5 : undefined]
]

for (const [name, domains] of cases) {
  for (const [valueName, value] of values) {
    t.test(`the map of ${name} with ${valueName} as value is the sorted list of its lines`, async t => {
      t.equal(hostMapText(hostIndex(domains), value), expected(domains, value))
    })
  }
}

t.test('inRunDir is path.join, also for run dirs and paths join() rewrites', async t => {
  for (const dir of ['/run/lumos', '/run/lumos/', '/', '', '.', '../x', '/a//b/./c/..']) {
    for (const rel of ['maps/hosts.map', 'errors/dom_1-403.html', '../up', './here', 'a//b', '/abs', '', '..', '...']) {
      t.equal(inRunDir(dir, rel), join(dir, rel), `${dir} + ${rel}`)
    }
  }
})
