// The coordinator's incremental ConfigVersion encoding must produce exactly the bytes of the
// plain codec: nodes hash and verify the payload, and equal states must encode equally.
import t from 'tap'
import { encodeConfigVersion } from '../../coordinator/config-encoding.ts'
import { largeConfig } from '../../bench/envelope-size.ts'
import { configVersionCodec } from '../../proto/codec.ts'

t.test('the incremental encoding equals the codec, byte for byte', async t => {
  const config = largeConfig(3, 50)
  t.same(encodeConfigVersion(config), configVersionCodec.encode(config))
  const withBlacklist = { ...config, accountIpBlacklist: ['192.0.2.0/24', '198.51.100.7'] }
  t.same(encodeConfigVersion(withBlacklist), configVersionCodec.encode(withBlacklist))
})

t.test('a replaced domain is re-encoded while the others are reused', async t => {
  const config = largeConfig(3, 50)
  encodeConfigVersion(config)
  const domains = [...config.domains]
  domains[7] = { ...domains[7]!, origins: [{ address: '10.9.9.9', port: 8443, weight: 5, tls: true }] }
  const next = { ...config, version: config.version + 1, domains }
  t.same(encodeConfigVersion(next), configVersionCodec.encode(next))
})

t.test('an account without domains, servers or blacklist encodes like the codec', async t => {
  const empty = { ...largeConfig(0, 0), previousHash: new Uint8Array() }
  t.same(encodeConfigVersion(empty), configVersionCodec.encode(empty))
})
