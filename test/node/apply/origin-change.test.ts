// originOnlyChanges: the pairs of domains whose origins moved, and nothing else changed —
// the versions the apply path may take through the runtime API without a full render.
import t from 'tap'
import type { ConfigVersion, Domain } from '../../../proto/codec.ts'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import { ORIGIN_CHANGE_MAX_DOMAINS, originOnlyChanges } from '../../../node/apply/origin-change.ts'

const domain = (i: number, input: Partial<Domain> = {}): Domain => withDomainDefaults({
  id: `dom_${i}`,
  hostname: `site${i}.example.com`,
  serverIds: ['srv_a'],
  origins: [{ address: '10.0.0.1', port: 8080, weight: 100, tls: false }],
  ...input
})
const version = (domains: Domain[], extra: Partial<ConfigVersion> = {}): ConfigVersion =>
  ({ accountId: 'acc_x', version: 1, previousHash: new Uint8Array(32), issuedAtMs: 0, servers: [], domains, accountIpBlacklist: [], challengeKey: new Uint8Array(32), ...extra })

const domains = [domain(1), domain(2), domain(3)]
const before = version(domains)

t.test('the same domain objects: nothing changed, whatever the version number', async t => {
  t.same(originOnlyChanges(before, version([...domains], { version: 2, issuedAtMs: 5 })), [])
})

t.test('origins moved (address, port, weight) in some domains: those pairs', async t => {
  const moved = domain(2, { origins: [{ address: '10.0.0.9', port: 9090, weight: 30, tls: false }] })
  const after = version([domains[0]!, moved, domains[2]!], { version: 2 })
  t.same(originOnlyChanges(before, after), [[domains[1], moved]])
  const equalCopy = domain(3)
  t.same(originOnlyChanges(before, version([domains[0]!, domains[1]!, equalCopy])), [[domains[2], equalCopy]], 'a new object with the same content is a pair that plans no command')
})

t.test('anything else changed: undefined', async t => {
  const cases: Array<[string, ConfigVersion]> = [
    ['a domain added', version([...domains, domain(4)])],
    ['a domain removed', version(domains.slice(0, 2))],
    ['a domain replaced by another', version([domains[0]!, domains[1]!, domain(4)])],
    ['an origin added', version([domains[0]!, domain(2, { origins: [...domains[1]!.origins, { address: '10.0.0.2', port: 80, weight: 1, tls: false }] }), domains[2]!])],
    ['TLS to an origin switched on', version([domains[0]!, domain(2, { origins: [{ address: '10.0.0.1', port: 8080, weight: 100, tls: true }] }), domains[2]!])],
    ['a hostname', version([domains[0]!, domain(2, { hostname: 'other.example.com' }), domains[2]!])],
    ['the servers of a domain', version([domains[0]!, domain(2, { serverIds: ['srv_a', 'srv_b'] }), domains[2]!])],
    ['a domain setting', version([domains[0]!, domain(2, { timeouts: { connectMs: 1000, serverMs: 0, clientMs: 0 } }), domains[2]!])],
    ['the account blacklist', version(domains, { accountIpBlacklist: ['192.0.2.1'] })],
    ['the challenge key', version(domains, { challengeKey: new Uint8Array(32).fill(1) })],
    ['the servers of the account', version(domains, { servers: [{ id: 'srv_a', name: 'a', peerId: 'p', multiaddrs: [], publicIp: '192.0.2.7', status: 'active' }] })],
    ['another account', version(domains, { accountId: 'acc_y' })],
    ['the domains reordered (the full way renders the same config)', version([domains[1]!, domains[0]!, domains[2]!])]
  ]
  for (const [what, after] of cases) t.equal(originOnlyChanges(before, after), undefined, what)
})

t.test(`more than ${ORIGIN_CHANGE_MAX_DOMAINS} changed domains take the full way`, async t => {
  const many = Array.from({ length: ORIGIN_CHANGE_MAX_DOMAINS + 1 }, (_, i) => domain(i))
  const moved = many.map((d, i) => domain(i, { origins: [{ ...d.origins[0]!, port: 9000 }] }))
  t.equal(originOnlyChanges(version(many), version(moved)), undefined)
  t.equal(originOnlyChanges(version(many), version([...moved.slice(0, ORIGIN_CHANGE_MAX_DOMAINS), many.at(-1)!]))?.length, ORIGIN_CHANGE_MAX_DOMAINS, 'exactly the limit is still fine')
})
