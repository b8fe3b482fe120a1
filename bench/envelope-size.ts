// bench/envelope-size: size of the signed envelope for large accounts (20 servers ×
// 10 / 1 000 / 10 000 domains), raw and as sent (compressed), against the gossip limit.
// Writes bench/results/envelope-size.json.
import { writeFile, mkdir } from 'node:fs/promises'
import { encodeEnvelope, generateSigningKey, signConfigVersion } from '../proto/envelope.ts'
import { withDomainDefaults } from '../proto/domain-settings.ts'
import type { ConfigVersion } from '../proto/codec.ts'
import { MAX_MESSAGE_BYTES } from '../proto/mesh-peer.ts'

export function largeConfig (servers: number, domains: number): ConfigVersion {
  const serverIds = Array.from({ length: servers }, (_, i) => `srv_${String(i).padStart(12, '0')}`)
  return {
    accountId: 'acc_bench0000001',
    version: 42,
    previousHash: new Uint8Array(32).fill(7),
    issuedAtMs: 1_800_000_000_000,
    servers: serverIds.map((id, i) => ({ id, name: `shield ${i}`, peerId: `12D3KooW${'x'.repeat(44)}`, multiaddrs: [`/ip4/203.0.113.${i}/tcp/7702/p2p/12D3KooW${'x'.repeat(44)}`], publicIp: `203.0.113.${i}`, status: 'online' })),
    domains: Array.from({ length: domains }, (_, i) => withDomainDefaults({
      id: `dom_${String(i).padStart(12, '0')}`,
      hostname: `site${i}.customer${i % 97}.example.com`,
      aliases: [`www.site${i}.customer${i % 97}.example.com`],
      serverIds: [serverIds[i % servers] as string, serverIds[(i + 1) % servers] as string],
      origins: [{ address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8080, weight: 100, tls: false }],
      waf: { ipBlacklist: [], rateLimitRequests: 100, rateLimitWindowS: 10, owasp: true, paranoia: 1 },
      failover: { enabled: true, mode: 'failover', zone: `customer${i % 97}.example.com`, record: `site${i}.customer${i % 97}.example.com` }
    })),
    accountIpBlacklist: [],
    challengeKey: new Uint8Array(32)
  }
}

if (import.meta.main) {
  const key = generateSigningKey()
  const rows = []
  for (const domains of [10, 1000, 10_000]) {
    const started = performance.now()
    const bytes = encodeEnvelope(signConfigVersion(largeConfig(20, domains), key))
    rows.push({ servers: 20, domains, envelopeBytes: bytes.length, encodeSignMs: Math.round(performance.now() - started), gossipLimitBytes: MAX_MESSAGE_BYTES, fits: bytes.length <= MAX_MESSAGE_BYTES })
  }
  console.table(rows)
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  await writeFile(new URL('./results/envelope-size.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), rows }, null, 2) + '\n')
}
