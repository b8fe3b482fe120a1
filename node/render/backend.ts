// The HAProxy backend of one domain: its origins (weights, health checks, optional TLS to
// the origin), per-domain timeouts, error pages, and the rule modules' lines in a fixed
// order — blacklist (403), HTTP→HTTPS redirect, rate limit (429), WAF (the verdict of the
// frontend's inspection, node/render/waf.ts), bot protection.
// Pure; the files the rules need are returned beside the lines.
import type { Domain } from '../../proto/codec.ts'
import { DEFAULT_TIMEOUTS } from '../../proto/domain-settings.ts'
import { blacklistRules } from './blacklist.ts'
import { botRules } from './bot-protection.ts'
import { errorPageRules } from './error-pages.ts'
import { backendName } from './layout.ts'
import { rateLimitRules } from './rate-limit.ts'
import type { DomainRules, RuleContext, RuleModule } from './rules.ts'
import { wafRules } from './waf.ts'

export { backendName } from './layout.ts'

/** HAProxy time value: whole seconds as "5s", anything else in milliseconds. */
export function haproxyDuration (ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

/** A zero timeout means "not set" on the wire (protobuf default): use the product default. */
function timeoutOr (value: number, fallback: number): number {
  return Number.isInteger(value) && value > 0 ? value : fallback
}

export function clientTimeoutMs (domain: Domain): number {
  return timeoutOr(domain.timeouts.clientMs, DEFAULT_TIMEOUTS.clientMs)
}

/** Redirect plain HTTP to HTTPS, except ACME HTTP-01 challenges which must stay on port 80. */
const redirectRules: RuleModule = (domain) => ({
  backendLines: domain.tls.enabled && domain.tls.redirectHttp
    ? ['http-request redirect scheme https code 301 if !{ ssl_fc } !{ path_beg /.well-known/acme-challenge/ }']
    : [],
  files: {}
})

/** Rule modules in evaluation order. */
const RULE_MODULES: readonly RuleModule[] = [blacklistRules, redirectRules, rateLimitRules, wafRules, botRules]

function serverLine (domain: Domain, index: number): string {
  const origin = domain.origins[index]!
  const address = origin.address.includes(':') ? `[${origin.address}]` : origin.address
  // Origins are often private or self-signed: TLS to them encrypts without verifying the certificate.
  const tls = origin.tls ? ` ssl verify none sni str(${domain.hostname}) check-sni ${domain.hostname}` : ''
  return `server origin${index + 1} ${address}:${origin.port} weight ${origin.weight} check inter 2s fall 3 rise 2${tls}`
}

export function renderBackend (domain: Domain, ctx: RuleContext): DomainRules {
  const errors = errorPageRules(domain, ctx.runDir)
  const rules = RULE_MODULES.map(module => module(domain, ctx))
  const files: Record<string, string> = { ...errors.files }
  for (const rule of rules) Object.assign(files, rule.files)
  const body = [
    `# ${domain.hostname}`,
    'balance roundrobin',
    `timeout connect ${haproxyDuration(timeoutOr(domain.timeouts.connectMs, DEFAULT_TIMEOUTS.connectMs))}`,
    `timeout server ${haproxyDuration(timeoutOr(domain.timeouts.serverMs, DEFAULT_TIMEOUTS.serverMs))}`,
    'option httpchk',
    `http-check send meth GET uri / ver HTTP/1.1 hdr Host ${domain.hostname}`,
    // A status range, not `rstatus ^[2-4]`: a regex is compiled once per backend at every start/reload.
    'http-check expect status 200-499',
    ...errors.backendLines,
    ...rules.flatMap(rule => rule.backendLines),
    ...domain.origins.map((_, index) => serverLine(domain, index))
  ]
  const lines = ['', `backend ${backendName(domain)}`, ...body.map(line => `    ${line}`)]
  return { backendLines: lines, files }
}
