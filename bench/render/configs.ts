// Config versions for the render benchmark: N domains all assigned to one server, in two
// shapes — the dataplane case (bench/dataplane: WAF + rate limit, one origin) and one with
// every feature on (aliases, several origins one with TLS, HTTPS with redirect, per-domain
// and account blacklists, WAF, rate limit, bad-bot blocking, JS challenge, error pages,
// timeouts). Deterministic, so runs compare.
import type { ConfigVersion } from '../../proto/codec.ts'
import { largeConfig } from '../envelope-size.ts'

export const BENCH_SERVER = 'srv_000000000000'

/** The bench/dataplane render case: largeConfig on one server, WAF + rate limit. */
export function wafRateLimitConfig (domains: number): ConfigVersion {
  const config = largeConfig(1, domains)
  for (const d of config.domains) {
    d.origins = [{ address: '127.0.0.1', port: 8080, weight: 100, tls: false }]
    d.serverIds = [BENCH_SERVER]
  }
  return config
}

const PAGE = (title: string): string => `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${'Please try again later. '.repeat(20)}</p></body></html>\n`

/** Every feature on for every domain. */
export function everyFeatureConfig (domains: number): ConfigVersion {
  const config = largeConfig(1, domains)
  config.accountIpBlacklist = ['192.0.2.1', '198.51.100.0/24', '2001:db8::/32']
  config.challengeKey = new Uint8Array(32).fill(9)
  config.domains.forEach((d, i) => {
    d.serverIds = [BENCH_SERVER]
    d.aliases = [`www.${d.hostname}`, `m.${d.hostname}`, `site${i}.customer${i % 97}.example.net`]
    d.origins = [
      { address: `10.${(i >> 8) & 255}.${i & 255}.10`, port: 8080, weight: 50, tls: false },
      { address: `10.${(i >> 8) & 255}.${i & 255}.11`, port: 8443, weight: 30, tls: true },
      { address: `fd00::${(i & 0xffff).toString(16)}`, port: 80, weight: 20, tls: false }
    ]
    d.tls = { enabled: true, redirectHttp: true }
    d.waf = {
      ipBlacklist: [`203.0.${i & 255}.${(i >> 8) & 255}`, `100.${64 + (i & 63)}.${(i >> 6) & 255}.0/24`, '198.51.100.7'],
      rateLimitRequests: 100 + (i % 7),
      rateLimitWindowS: 10,
      owasp: true,
      paranoia: 1 + (i % 4)
    }
    d.bot = { blockBadBots: true, jsChallenge: true, challengeTtlS: 3600 }
    d.timeouts = { connectMs: 2500, serverMs: 60_000, clientMs: 45_000 }
    d.errorPages = [
      { status: 403, html: PAGE(`Blocked ${d.hostname}`) },
      { status: 429, html: PAGE(`Too many requests ${d.hostname}`) },
      { status: 503, html: PAGE(`Maintenance ${d.hostname}`) }
    ]
  })
  return config
}
