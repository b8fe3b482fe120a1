// The domain body of the API: its JSON schema and its normalization into a wire Domain
// (without id). Pure; throws 400 LumosErrors with stable codes on bad input.
import type { Domain } from '../../proto/codec.ts'
import { DEFAULT_BOT, DEFAULT_FAILOVER, DEFAULT_TIMEOUTS, DEFAULT_TLS, DEFAULT_WAF } from '../../proto/domain-settings.ts'
import { checkPort, normalizeCidr, normalizeHostname, normalizeOriginAddress } from '../../proto/validation.ts'

export interface DomainBody {
  hostname: string
  aliases?: string[]
  servers: string[]
  origins: Array<{ address: string, port?: number, weight?: number, tls?: boolean }>
  tls?: Partial<Domain['tls']>
  waf?: Partial<Domain['waf']>
  bot?: Partial<Domain['bot']>
  timeouts?: Partial<Domain['timeouts']>
  errorPages?: Domain['errorPages']
  failover?: Partial<Domain['failover']>
}

const hostnameSchema = { type: 'string', minLength: 1, maxLength: 253 } as const
const ms = { type: 'integer', minimum: 100, maximum: 3_600_000 } as const

export const domainBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['hostname', 'servers', 'origins'],
  properties: {
    hostname: hostnameSchema,
    aliases: { type: 'array', maxItems: 50, items: hostnameSchema },
    servers: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 64 } },
    origins: {
      type: 'array',
      minItems: 1,
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['address'],
        properties: {
          address: { type: 'string', minLength: 1, maxLength: 253 },
          port: { type: 'integer' },
          weight: { type: 'integer', minimum: 1, maximum: 256 },
          tls: { type: 'boolean' }
        }
      }
    },
    tls: { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' }, redirectHttp: { type: 'boolean' } } },
    waf: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ipBlacklist: { type: 'array', maxItems: 10_000, items: { type: 'string', minLength: 2, maxLength: 49 } },
        rateLimitRequests: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        rateLimitWindowS: { type: 'integer', minimum: 1, maximum: 3600 },
        owasp: { type: 'boolean' },
        paranoia: { type: 'integer', minimum: 1, maximum: 4 }
      }
    },
    bot: {
      type: 'object',
      additionalProperties: false,
      properties: { blockBadBots: { type: 'boolean' }, jsChallenge: { type: 'boolean' }, challengeTtlS: { type: 'integer', minimum: 60, maximum: 2_592_000 } }
    },
    timeouts: { type: 'object', additionalProperties: false, properties: { connectMs: ms, serverMs: ms, clientMs: ms } },
    errorPages: {
      type: 'array',
      maxItems: 7,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['status', 'html'],
        properties: { status: { type: 'integer', enum: [403, 404, 429, 500, 502, 503, 504] }, html: { type: 'string', minLength: 1, maxLength: 65_536 } }
      }
    },
    failover: {
      type: 'object',
      additionalProperties: false,
      properties: { enabled: { type: 'boolean' }, mode: { type: 'string', enum: ['failover', 'round-robin'] }, zone: hostnameSchema, record: hostnameSchema }
    }
  }
} as const

/** Validates and normalizes a domain body into a wire Domain without its id. */
export function normalizeDomainBody (body: DomainBody): Omit<Domain, 'id'> {
  const hostname = normalizeHostname(body.hostname)
  const aliases = [...new Set((body.aliases ?? []).map(normalizeHostname))].filter(a => a !== hostname)
  const origins = body.origins.map(o => ({
    address: normalizeOriginAddress(o.address),
    port: checkPort(o.port ?? (o.tls === true ? 443 : 80), 'origin'),
    weight: o.weight ?? 100,
    tls: o.tls ?? false
  }))
  const waf = { ...DEFAULT_WAF, ...body.waf }
  const failover = { ...DEFAULT_FAILOVER, ...body.failover }
  return {
    hostname,
    aliases,
    serverIds: body.servers,
    origins,
    tls: { ...DEFAULT_TLS, ...body.tls },
    waf: { ...waf, ipBlacklist: [...new Set(waf.ipBlacklist.map(normalizeCidr))].sort() },
    bot: { ...DEFAULT_BOT, ...body.bot },
    timeouts: { ...DEFAULT_TIMEOUTS, ...body.timeouts },
    errorPages: [...new Map((body.errorPages ?? []).map(page => [page.status, page])).values()].sort((a, b) => a.status - b.status),
    failover: {
      ...failover,
      zone: failover.zone === '' ? '' : normalizeHostname(failover.zone),
      record: failover.record === '' ? (failover.enabled ? hostname : '') : normalizeHostname(failover.record)
    }
  }
}
