// ConfigDecoder: the same result as a plain decode, with unchanged domains reused (and
// frozen) between versions, and the renderer's output unchanged by the reuse.
import t from 'tap'
import { configVersionCodec, type ConfigVersion } from '../../proto/codec.ts'
import { ConfigDecoder, LARGE_ACCOUNT_DOMAINS } from '../../proto/config-decoder.ts'
import { originOnlyChanges } from '../../node/apply/origin-change.ts'
import { withDomainDefaults } from '../../proto/domain-settings.ts'
import { renderHaproxyConfig } from '../../node/render/render.ts'

const TEMPLATES_DIR = new URL('../../haproxy-templates', import.meta.url).pathname

function version (n: number, ports: number[], extra: Partial<ConfigVersion> = {}): ConfigVersion {
  return {
    accountId: 'acc_test',
    version: n,
    previousHash: new Uint8Array([n]),
    issuedAtMs: 1000 + n,
    servers: [{ id: 'srv_a', name: 'a', peerId: 'p', multiaddrs: ['/ip4/127.0.0.1/tcp/1'], publicIp: '192.0.2.1', status: 'active' }],
    domains: ports.map((port, i) => withDomainDefaults({
      id: `dom_${i}`,
      hostname: `site${i}.example.com`,
      serverIds: ['srv_a'],
      origins: [{ address: '127.0.0.1', port, weight: 100, tls: false }],
      ...(i === 1 ? { waf: { ipBlacklist: ['192.0.2.7'], rateLimitRequests: 10, rateLimitWindowS: 10, owasp: true, paranoia: 2 }, errorPages: [{ status: 503, html: '<p>later</p>' }] } : {})
    })),
    accountIpBlacklist: ['198.51.100.0/24'],
    challengeKey: new Uint8Array(32).fill(n),
    ...extra
  }
}

t.test('decodes like configVersionCodec.decode and reuses the domains whose bytes did not change', async t => {
  const decoder = new ConfigDecoder()
  const v1 = configVersionCodec.encode(version(1, [8001, 8002, 8003]))
  const first = decoder.decode(v1)
  t.same(first, configVersionCodec.decode(v1), 'the same ConfigVersion as a plain decode')
  t.ok(Object.isFrozen(first.domains[1]) && Object.isFrozen(first.domains[1]!.waf.ipBlacklist), 'decoded domains are deep-frozen')

  const v2 = configVersionCodec.encode(version(2, [8001, 9002, 8003]))
  const second = decoder.decode(v2)
  t.same(second, configVersionCodec.decode(v2), 'the next version too')
  t.equal(second.domains[0], first.domains[0], 'an unchanged domain is the same object')
  t.equal(second.domains[2], first.domains[2], 'another unchanged domain too')
  t.not(second.domains[1], first.domains[1], 'the changed domain is decoded anew')
  t.equal(second.domains[1]!.origins[0]!.port, 9002)
  t.equal(second.version, 2)
  t.same(second.challengeKey, new Uint8Array(32).fill(2), 'fields beside the domains are decoded')

  const empty = decoder.decode(configVersionCodec.encode(version(3, [])))
  t.same(empty.domains, [], 'a version without domains')
  t.throws(() => decoder.decode(new Uint8Array([0x32, 0x05, 0x01])), { code: 'MALFORMED_MESSAGE' }, 'truncated bytes are MALFORMED_MESSAGE')
})

t.test('a domain added or removed shifts the others: they are still found by their bytes', async t => {
  const decoder = new ConfigDecoder()
  const v1 = version(1, [8001, 8002, 8003])
  const first = decoder.decode(configVersionCodec.encode(v1))
  const added = version(2, [8001, 8002, 8003, 8004])
  added.domains.unshift(added.domains.pop()!)
  const addedBytes = configVersionCodec.encode(added)
  const second = decoder.decode(addedBytes)
  t.same(second, configVersionCodec.decode(addedBytes), 'the same ConfigVersion as a plain decode')
  t.same(second.domains.slice(1), first.domains, 'the three domains after the new one are the same objects')
  t.equal(second.domains[1], first.domains[0])
  const removed = version(3, [8001, 8002, 8003, 8004])
  removed.domains.splice(2, 1)
  const removedBytes = configVersionCodec.encode(removed)
  const third = decoder.decode(removedBytes)
  t.same(third, configVersionCodec.decode(removedBytes))
  t.equal(third.domains[0], first.domains[0], 'unchanged domains before the removed one are reused')
  t.equal(third.domains[2], second.domains[0], 'and after it')
  const swapped = version(4, [8001, 8002, 8003])
  ;[swapped.domains[0], swapped.domains[1]] = [swapped.domains[1]!, swapped.domains[0]!]
  const swappedBytes = configVersionCodec.encode(swapped)
  t.same(decoder.decode(swappedBytes), configVersionCodec.decode(swappedBytes), 'a reorder (same count) decodes right')
})

t.test('rendering reused domains gives the same files as rendering fresh ones', async t => {
  const decoder = new ConfigDecoder()
  const template = 'global\n{{FRONTEND_RULES}}\n{{BACKENDS}}\n'
  const render = (config: ConfigVersion, runDir = '/run/lumos'): ReturnType<typeof renderHaproxyConfig> => renderHaproxyConfig({ config, serverId: 'srv_a', httpBind: ':80', httpsBind: ':443', template, paths: { runDir, templatesDir: TEMPLATES_DIR } })
  render(decoder.decode(configVersionCodec.encode(version(1, [8001, 8002, 8003]))))
  const bytes = configVersionCodec.encode(version(2, [8001, 9002, 8003]))
  const reused = render(decoder.decode(bytes))
  const fresh = render(configVersionCodec.decode(bytes))
  t.equal(reused.haproxyCfg, fresh.haproxyCfg, 'the same haproxy.cfg')
  t.same(reused.files, fresh.files, 'the same files')
  t.equal(reused.hash, fresh.hash)
  t.match(reused.haproxyCfg, /server origin1 127\.0\.0\.1:9002 /, 'the changed origin is rendered')
  const elsewhere = render(decoder.decode(bytes), '/run/other')
  t.equal(elsewhere.haproxyCfg, render(configVersionCodec.decode(bytes), '/run/other').haproxyCfg, 'a different run dir renders the reused domains again')
  // Node features follow the whole node: without the WAF domain, the others' backends drop the WAF verdict.
  const noWaf = version(3, [8001, 9002, 8003])
  noWaf.domains.splice(1, 1)
  const withoutWaf = configVersionCodec.encode(noWaf)
  t.equal(render(decoder.decode(withoutWaf)).haproxyCfg, render(configVersionCodec.decode(withoutWaf)).haproxyCfg, 'a change of node features renders the reused domains again')
})

t.test('large accounts reuse domains too, unfrozen: a one-origin move is seen as such, and renders stay exact', async t => {
  const decoder = new ConfigDecoder()
  const ports = Array.from({ length: LARGE_ACCOUNT_DOMAINS + 1 }, (_, i) => 10_000 + i)
  const first = decoder.decode(configVersionCodec.encode(version(1, ports)))
  ports[7] = 9007
  const bytes = configVersionCodec.encode(version(2, ports, { challengeKey: new Uint8Array(32).fill(1) }))
  const second = decoder.decode(bytes)
  t.equal(second.domains.length, LARGE_ACCOUNT_DOMAINS + 1)
  t.equal(second.domains[0], first.domains[0], 'an unchanged domain is the same object')
  t.notOk(Object.isFrozen(second.domains[0]), 'not frozen (memory), so the renderer keeps nothing for it')
  t.same(second, configVersionCodec.decode(bytes), 'the same ConfigVersion as a plain decode')
  const pairs = originOnlyChanges(first, second)
  t.same(pairs?.map(([before, after]) => [before.id, after.origins[0]!.port]), [['dom_7', 9007]], 'the apply path sees one origin moved, not every domain changed')
  const template = 'global\n{{FRONTEND_RULES}}\n{{BACKENDS}}\n'
  const render = (config: ConfigVersion): string => renderHaproxyConfig({ config, serverId: 'srv_a', httpBind: ':80', httpsBind: ':443', template, paths: { runDir: '/run/lumos', templatesDir: TEMPLATES_DIR } }).haproxyCfg
  render(first)
  t.equal(render(second), render(configVersionCodec.decode(bytes)), 'the same haproxy.cfg as from a plain decode')

  // The last domain removed, then added back: the others' bytes do not change.
  const small = decoder.decode(configVersionCodec.encode(version(3, ports.slice(0, LARGE_ACCOUNT_DOMAINS))))
  t.not(small.domains[0], second.domains[0], 'an account shrinking to the limit decodes its domains anew')
  t.ok(Object.isFrozen(small.domains[0]), 'frozen again')
  const large = decoder.decode(configVersionCodec.encode(version(4, ports)))
  t.not(large.domains[0], small.domains[0], 'and growing past it, unfrozen again')
  t.notOk(Object.isFrozen(large.domains[0]))
})

t.test('several edits at once, some changing a domain\'s length: exactly the edited domains are decoded anew', async t => {
  const ports = Array.from({ length: 40 }, (_, i) => 8000 + i)
  const decoder = new ConfigDecoder()
  const first = decoder.decode(configVersionCodec.encode(version(1, ports)))
  // 8003 → 80 shortens domain 3 (a 1-byte varint), 8017 → 9017 keeps the length of domain 17,
  // 8039 → 65000 lengthens domain 39: the domains after 3 move in the payload.
  const edited = new Map([[3, 80], [17, 9017], [39, 65000]])
  const v2 = configVersionCodec.encode(version(2, ports.map((port, i) => edited.get(i) ?? port)))
  const second = decoder.decode(v2)
  t.same(second, configVersionCodec.decode(v2), 'the same ConfigVersion as a plain decode')
  const decodedAnew = second.domains.flatMap((domain, i) => domain === first.domains[i] ? [] : [i])
  t.same(decodedAnew, [3, 17, 39], 'only the edited domains are new objects')

  const third = decoder.decode(configVersionCodec.encode(version(3, ports.map(port => port + 2000))))
  t.ok(third.domains.every((domain, i) => domain !== second.domains[i]), 'every domain edited: none reused')
  t.equal(third.domains[20]!.origins[0]!.port, 10020)
})
