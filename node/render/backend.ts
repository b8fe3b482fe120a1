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
import { NO_RULES, type DomainRules, type RuleContext, type RuleModule } from './rules.ts'
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
const REDIRECT_RULES: DomainRules = Object.freeze({
  backendLines: Object.freeze(['http-request redirect scheme https code 301 if !{ ssl_fc } !{ path_beg /.well-known/acme-challenge/ }']) as string[],
  files: Object.freeze({})
})
const redirectRules: RuleModule = (domain) => domain.tls.enabled && domain.tls.redirectHttp ? REDIRECT_RULES : NO_RULES

/** Rule modules in evaluation order. */
const RULE_MODULES: readonly RuleModule[] = [blacklistRules, redirectRules, rateLimitRules, wafRules, botRules]

/**
 * Origins are health-checked only when there is another one to send traffic to. Checking
 * a lone origin changes no routing (with it down, requests fail either way) and costs it a
 * request per shield every 2 s: 20 shields × 1 000 single-origin domains would be 10 000
 * checks per second (docs/decisions/003-apply-path.md).
 */
function healthChecked (domain: Domain): boolean {
  return domain.origins.length > 1
}

function serverLine (domain: Domain, index: number): string {
  const origin = domain.origins[index]!
  const address = origin.address.includes(':') ? `[${origin.address}]` : origin.address
  // Origins are often private or self-signed: TLS to them encrypts without verifying the certificate.
  const checked = healthChecked(domain)
  const tls = origin.tls ? ` ssl verify none sni str(${domain.hostname})${checked ? ` check-sni ${domain.hostname}` : ''}` : ''
  const check = checked ? ' check inter 2s fall 3 rise 2' : ''
  return `server origin${index + 1} ${address}:${origin.port} weight ${origin.weight}${check}${tls}`
}

/** Indentation of the lines inside a section, with the newline that precedes each. */
const LINE = '\n    '

/**
 * The domain's backend section ("\nbackend <name>" then "\n    <line>" per line); the files
 * its rules need go to `files` (a later file of the same path wins). Built by appending
 * to one string (a rope V8 copies once, when the config is joined): at 10 000 domains,
 * arrays of lines joined per backend were a large share of render time.
 */
export function renderBackend (domain: Domain, ctx: RuleContext, files: Map<string, string>): string {
  // A frozen domain (proto/config-decoder.ts reuses it across versions) cannot have changed
  // since it was rendered: its backend and files are taken as they were.
  if (!Object.isFrozen(domain)) return buildBackend(domain, ctx, files)
  const key = `${ctx.runDir}\0${ctx.templatesDir}\0${Number(ctx.node.waf)}${Number(ctx.node.badBots)}${Number(ctx.node.challenge)}`
  let cached = renderedBackends.get(domain)
  if (cached?.key !== key) {
    const own = new Map<string, string>()
    cached = { key, text: buildBackend(domain, ctx, own), files: [...own] }
    renderedBackends.set(domain, cached)
  }
  for (const [path, content] of cached.files) files.set(path, content)
  return cached.text
}

/**
 * Backends of frozen domains with what they were rendered for (key: run dir, templates dir,
 * node features — all a per-domain rule module may depend on, node/render/rules.ts).
 */
const renderedBackends = new WeakMap<Domain, { key: string, text: string, files: Array<[string, string]> }>()

function buildBackend (domain: Domain, ctx: RuleContext, files: Map<string, string>): string {
  const errors = errorPageRules(domain, ctx.runDir)
  for (const path in errors.files) files.set(path, errors.files[path]!)
  let text = `\nbackend ${backendName(domain)}${LINE}# ${domain.hostname}${LINE}balance roundrobin` +
    `${LINE}timeout connect ${haproxyDuration(timeoutOr(domain.timeouts.connectMs, DEFAULT_TIMEOUTS.connectMs))}` +
    `${LINE}timeout server ${haproxyDuration(timeoutOr(domain.timeouts.serverMs, DEFAULT_TIMEOUTS.serverMs))}`
  if (healthChecked(domain)) {
    text += `${LINE}option httpchk${LINE}http-check send meth GET uri / ver HTTP/1.1 hdr Host ${domain.hostname}` +
      // A status range, not `rstatus ^[2-4]`: a regex is compiled once per backend at every start/reload.
      `${LINE}http-check expect status 200-499`
  }
  for (const line of errors.backendLines) { text += LINE; text += line }
  for (const module of RULE_MODULES) {
    const rule = module(domain, ctx)
    for (const line of rule.backendLines) { text += LINE; text += line }
    for (const path in rule.files) files.set(path, rule.files[path]!)
  }
  for (let index = 0; index < domain.origins.length; index++) { text += LINE; text += serverLine(domain, index) }
  return text
}
