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

/**
 * Fills nested settings a decoded ConfigVersion left null with their defaults, in place:
 * the decoder's output is a fresh plain object owned by the caller, and copying every
 * domain again doubled the garbage of a 10 000-domain decode. toObject({ defaults: true })
 * already gives every present message all its fields and every repeated field an array,
 * so only absent (null) messages need filling.
 */
export function normalizeDecodedConfig (config: ConfigVersion): ConfigVersion {
  for (const domain of config.domains) normalizeDecodedDomain(domain)
  return config
}

/** normalizeDecodedConfig for one decoded Domain, in place. */
export function normalizeDecodedDomain (decoded: Domain): Domain {
  const domain = decoded as Nullable<Domain>
  domain.tls ??= { ...DEFAULT_TLS }
  domain.waf ??= { ...DEFAULT_WAF, ipBlacklist: [] }
  domain.bot ??= { ...DEFAULT_BOT }
  domain.timeouts ??= { ...DEFAULT_TIMEOUTS }
  domain.failover ??= { ...DEFAULT_FAILOVER }
  return decoded
}

/** A Domain as protobufjs decodes it: nested messages may be null. */
type Nullable<T> = { [K in keyof T]: T[K] | null }
