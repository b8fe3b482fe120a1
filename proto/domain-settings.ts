// Defaults of every per-domain setting, shared by the coordinator (filling API input) and
// nodes (filling fields a decoded message left empty: protobuf has no "absent" for
// nested messages, protobufjs decodes them as null).
import type { BotSettings, ConfigVersion, Domain, FailoverSettings, Timeouts, TlsSettings, WafSettings } from './codec.ts'

export const DEFAULT_TLS: Readonly<TlsSettings> = Object.freeze({ enabled: false, redirectHttp: false })
export const DEFAULT_WAF: Readonly<WafSettings> = Object.freeze({ ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 })
export const DEFAULT_BOT: Readonly<BotSettings> = Object.freeze({ blockBadBots: false, jsChallenge: false, challengeTtlS: 3600 })
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({ connectMs: 5000, serverMs: 30000, clientMs: 30000 })
export const DEFAULT_FAILOVER: Readonly<FailoverSettings> = Object.freeze({ enabled: false, mode: 'failover', zone: '', record: '' })

export type DomainInput = Pick<Domain, 'id' | 'hostname' | 'serverIds' | 'origins'> & Partial<Domain>

/** A complete Domain from the required fields plus any settings given. */
export function withDomainDefaults (input: DomainInput): Domain {
  return {
    aliases: [],
    errorPages: [],
    ...input,
    tls: { ...DEFAULT_TLS, ...input.tls },
    waf: { ...DEFAULT_WAF, ipBlacklist: [], ...input.waf },
    bot: { ...DEFAULT_BOT, ...input.bot },
    timeouts: { ...DEFAULT_TIMEOUTS, ...input.timeouts },
    failover: { ...DEFAULT_FAILOVER, ...input.failover }
  }
}

/** Fills nested settings a decoded ConfigVersion left null with their defaults. */
export function normalizeDecodedConfig (config: ConfigVersion): ConfigVersion {
  const stripNulls = <T extends object>(value: T | null | undefined): Partial<T> => value ?? {}
  return {
    ...config,
    domains: config.domains.map(domain => withDomainDefaults({
      ...domain,
      tls: { ...DEFAULT_TLS, ...stripNulls(domain.tls) },
      waf: { ...DEFAULT_WAF, ...stripNulls(domain.waf) },
      bot: { ...DEFAULT_BOT, ...stripNulls(domain.bot) },
      timeouts: { ...DEFAULT_TIMEOUTS, ...stripNulls(domain.timeouts) },
      failover: { ...DEFAULT_FAILOVER, ...stripNulls(domain.failover) }
    }))
  }
}
