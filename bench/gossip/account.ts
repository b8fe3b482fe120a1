// The bench account's domains: bench/envelope-size.ts largeConfig's domains, assigned to
// the bench's real servers, optionally with more origins per domain (pseudo-random public
// addresses, ports and weights, deterministic) to reach a ~500 KB signed envelope the way
// a large real account does: by carrying more distinct data, not padding.
import type { Domain } from '../../proto/codec.ts'
import { largeConfig } from '../envelope-size.ts'

export const BENCH_ACCOUNT_ID = 'acc_gossipbench01'

export function benchDomains (serverIds: string[], count: number, origins: number): Domain[] {
  let seed = 0x2545f491
  const random = (): number => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5
    return (seed >>> 0) / 2 ** 32
  }
  const byte = (): number => 1 + Math.floor(random() * 254)
  const n = serverIds.length
  return largeConfig(n, count).domains.map((domain, i) => ({
    ...domain,
    serverIds: n === 1 ? [serverIds[0] as string] : [serverIds[i % n] as string, serverIds[(i + 1) % n] as string],
    origins: [
      ...domain.origins,
      ...Array.from({ length: origins - 1 }, () => ({ address: `${byte()}.${byte()}.${byte()}.${byte()}`, port: 1024 + Math.floor(random() * 60000), weight: 1 + Math.floor(random() * 255), tls: random() < 0.5 }))
    ]
  }))
}
