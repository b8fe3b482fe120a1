// Bot protection rules of a domain: bad-bot user agents refused with 403, and a JavaScript
// proof-of-work challenge whose signed cookie HAProxy 2.6 verifies by itself with
// converters (hmac, sha2, ub64enc, secure_memcmp) — no Lua, no round trip to the node.
//
// Protocol (every step is computed by HAProxy; the key never leaves the shield):
//   bucket    = floor(now / 300)                         (POW_BUCKET_S)
//   challenge = ub64(hmac_sha256(key, "pow|<ip>|<bucket>|<host>")[0..16])
//   page      = haproxy-templates/pages/challenge.html with challenge, bucket and bits;
//               its JS finds nonce with sha256(challenge + nonce) starting with POW_BITS
//               zero bits, sets cookie lumos_pow=<bucket>.<nonce> and reloads.
//   next GET  : HAProxy recomputes the challenge for <bucket> (current or previous one),
//               checks the zero bits, lets the request reach the origin and adds
//               Set-Cookie lumos_chk=<expiry>.<ub64(hmac_sha256(key, "<ip>|<expiry>|<host>"))>
//   later     : lumos_chk is valid while expiry > now (and not further than the TTL),
//               for the same client IP and Host. The key is the account's, so a cookie
//               earned on one shield is valid on every other shield after a failover.
//
// Who is challenged: GET/HEAD requests that Accept text/html, outside /.well-known/ (ACME).
// API clients (fetch/XHR, curl, mobile apps) send other Accept values and pass untouched:
// they cannot run the page anyway; rate limiting (WAF) is their protection. A bot can
// dodge the challenge by not asking for HTML — the challenge raises the cost of headless
// scraping of pages, it is not an authentication.
//
// Layout — checks once per node, verdicts per domain (as for the WAF, node/render/waf.ts):
// the shared frontend looks the Host up in maps/bot-block.map (→ 1) and
// maps/bot-challenge.map (→ the domain's cookie TTL), matches the bad-bot list and
// verifies / issues cookies for those domains only, setting txn.bot_bad and
// txn.bot_challenge; every backend of a node using a feature carries one line that acts on
// it (403 with the domain's page; the challenge page). In a backend, those ~35 lines with
// their inline ACLs and the shared key / bad-bot files cost `haproxy -c` about 3 ms per
// domain (30 s at 10 000). Turning either on or off for a domain, or changing its TTL, is
// a map change through the runtime API, no reload (only the node's first / last user of a
// feature changes haproxy.cfg).
//
// The key reaches HAProxy as a one-line map file bot/challenge.key in the run dir
// ("k <base64 key>"), read with str(k),map(...) — HAProxy loads maps at start-up, so the
// file can be mode 0600 owned by root and the key never appears in haproxy.cfg.
import { LumosError } from '../../proto/lumos-error.ts'
import { DEFAULT_BOT } from '../../proto/domain-settings.ts'
import type { Domain } from '../../proto/codec.ts'
import { hostIndex, hostMapText, type HostIndex } from './host-map.ts'
import { BOT_BLOCK_MAP, BOT_CHALLENGE_MAP, inRunDir } from './layout.ts'
import type { DomainRules, FrontendRules, RuleContext, RuleModule } from './rules.ts'

/** Cookie proving a solved challenge; checked by HAProxy on every challengeable request. */
export const CHALLENGE_COOKIE = 'lumos_chk'
/** Short-lived cookie the page's JS sets with its solution (`<bucket>.<nonce>`). */
export const POW_COOKIE = 'lumos_pow'
/**
 * Leading zero bits of sha256(challenge + nonce): 16 bits = 65 536 hashes on average,
 * about 0.4 s in the page's plain-JS sha256 on a desktop (~155k hashes/s measured in V8),
 * a second or two on a slow phone; enough to make a headless scraper run JS and burn CPU
 * once per IP and TTL, not enough to annoy people.
 */
export const POW_BITS = 16
/** Lifetime of a challenge: a solution is accepted for its bucket and the next one. */
export const POW_BUCKET_S = 300
/** The key file, relative to the run dir. Identical for every domain of the account. */
export const CHALLENGE_KEY_FILE = 'bot/challenge.key'
/** The longest cookie lifetime honoured, whatever the signed config says. */
export const MAX_CHALLENGE_TTL_S = 30 * 86400
const MIN_KEY_BYTES = 16
/** The request's host as the host map sees it (lowercase, without port). */
const HOST_KEY = 'req.hdr(host),lower,field(1,:)'

/** Bad-bot user agents, case-insensitive substrings; see the file for the policy. */
export function badBotsFile (templatesDir: string): string {
  return `${templatesDir}/bad-bots.txt`
}

export function challengePageFile (templatesDir: string): string {
  return `${templatesDir}/pages/challenge.html`
}

/** The HAProxy map file carrying the account's challenge key. */
export function challengeKeyMap (key: Uint8Array): string {
  return `k ${Buffer.from(key).toString('base64')}\n`
}

export function challengeTtl (domain: Domain): number {
  const ttl = domain.bot.challengeTtlS > 0 ? domain.bot.challengeTtlS : DEFAULT_BOT.challengeTtlS
  return Math.min(Math.floor(ttl), MAX_CHALLENGE_TTL_S)
}

/** HAProxy match of an upper-case hex sha256 that starts with `bits` zero bits. */
export function zeroBitsMatch (bits: number): string {
  const nibbles = Math.floor(bits / 4)
  const rest = bits % 4
  if (rest === 0) return `-m beg ${'0'.repeat(nibbles)}`
  return `-m reg ^${'0'.repeat(nibbles)}[0-${(1 << (4 - rest)) - 1}]`
}

/** The frontend's bad-bot check: a domain of maps/bot-block.map with a listed user agent gets txn.bot_bad. */
function badBotLines (ctx: RuleContext): string[] {
  return [`http-request set-var(txn.bot_bad) bool(true) if { ${HOST_KEY},map(${inRunDir(ctx.runDir, BOT_BLOCK_MAP)}) -m found } { req.fhdr(user-agent) -m sub -i -f ${badBotsFile(ctx.templatesDir)} }`]
}

/** The frontend's challenge computation for the domains of maps/bot-challenge.map (Host → TTL). */
function challengeLines (ctx: RuleContext): string[] {
  const keyMap = inRunDir(ctx.runDir, CHALLENGE_KEY_FILE)
  const mac = 'hmac(sha256,txn.bot_key)'
  const ifPow = 'if bot_gate !bot_ok bot_has_pow'
  const ifIssue = 'if bot_gate bot_issue'
  const ifChallenge = 'if bot_gate !bot_ok !bot_issue'
  const cookie = `${CHALLENGE_COOKIE}=%[var(txn.bot_nexp)].%[var(txn.bot_nmac)]; Path=/; Max-Age=%[var(txn.bot_ttl)]; HttpOnly; SameSite=Lax`
  return [
    // Which requests the challenge is for (a challenge domain, a page request); everything else skips all the work below.
    `http-request set-var(txn.bot_ttl) ${HOST_KEY},map_str_int(${inRunDir(ctx.runDir, BOT_CHALLENGE_MAP)})`,
    'acl bot_page_method method GET HEAD',
    'acl bot_wants_html req.fhdr(accept) -m sub -i text/html',
    'acl bot_exempt path_beg /.well-known/',
    `acl bot_has_chk req.cook(${CHALLENGE_COOKIE}) -m found`,
    `acl bot_has_pow req.cook(${POW_COOKIE}) -m found`,
    'acl bot_gate var(txn.bot_gate) -m bool',
    'acl bot_ok var(txn.bot_ok) -m bool',
    'acl bot_issue var(txn.bot_issue) -m bool',
    'http-request set-var(txn.bot_gate) bool(true) if { var(txn.bot_ttl) -m found } bot_page_method bot_wants_html !bot_exempt',
    `http-request set-var(txn.bot_key) str(k),map(${keyMap}) if bot_gate`,
    'http-request set-var(txn.bot_now) date if bot_gate',
    'http-request set-var(txn.bot_host) req.hdr(host),host_only if bot_gate',
    // lumos_chk=<expiry>.<mac>: signature over ip|expiry|host, expiry in (now, now+ttl].
    `http-request set-var(txn.bot_exp) req.cook(${CHALLENGE_COOKIE}),field(1,.) if bot_gate bot_has_chk`,
    `http-request set-var(txn.bot_mac) req.cook(${CHALLENGE_COOKIE}),field(2,.) if bot_gate bot_has_chk`,
    'http-request set-var(txn.bot_left) var(txn.bot_exp),sub(txn.bot_now) if bot_gate bot_has_chk',
    'http-request set-var(txn.bot_slack) var(txn.bot_ttl),sub(txn.bot_left) if bot_gate bot_has_chk',
    'http-request set-var-fmt(txn.bot_msg) "%[src]|%[var(txn.bot_exp)]|%[var(txn.bot_host)]" if bot_gate bot_has_chk',
    `http-request set-var(txn.bot_ok) var(txn.bot_msg),${mac},ub64enc,secure_memcmp(txn.bot_mac) if bot_gate bot_has_chk { var(txn.bot_left) -m int ge 1 } { var(txn.bot_slack) -m int ge 0 }`,
    // lumos_pow=<bucket>.<nonce>: the bucket must be the current or the previous one.
    `http-request set-var(txn.bot_pb) req.cook(${POW_COOKIE}),field(1,.) ${ifPow}`,
    `http-request set-var(txn.bot_pn) req.cook(${POW_COOKIE}),field(2,.) ${ifPow}`,
    `http-request set-var(txn.bot_pow_age) var(txn.bot_now),div(${POW_BUCKET_S}),sub(txn.bot_pb) ${ifPow}`,
    `http-request set-var-fmt(txn.bot_pmsg) "pow|%[src]|%[var(txn.bot_pb)]|%[var(txn.bot_host)]" ${ifPow} { var(txn.bot_pow_age) -m int 0:1 }`,
    `http-request set-var(txn.bot_phash) var(txn.bot_pmsg),${mac},bytes(0,16),ub64enc,concat(,txn.bot_pn,),sha2(256),hex ${ifPow} { var(txn.bot_pmsg) -m found }`,
    `http-request set-var(txn.bot_issue) bool(true) ${ifPow} { var(txn.bot_phash) ${zeroBitsMatch(POW_BITS)} }`,
    `http-request set-var(txn.bot_nexp) var(txn.bot_now),add(txn.bot_ttl) ${ifIssue}`,
    `http-request set-var-fmt(txn.bot_nmsg) "%[src]|%[var(txn.bot_nexp)]|%[var(txn.bot_host)]" ${ifIssue}`,
    `http-request set-var(txn.bot_nmac) var(txn.bot_nmsg),${mac},ub64enc ${ifIssue}`,
    // Neither cookie is valid: the page's values, and txn.bot_challenge for the backend to serve it.
    `http-request set-var(txn.bot_bucket) var(txn.bot_now),div(${POW_BUCKET_S}) ${ifChallenge}`,
    `http-request set-var-fmt(txn.bot_cmsg) "pow|%[src]|%[var(txn.bot_bucket)]|%[var(txn.bot_host)]" ${ifChallenge}`,
    `http-request set-var(txn.bot_chal) var(txn.bot_cmsg),${mac},bytes(0,16),ub64enc ${ifChallenge}`,
    `http-request set-var(txn.bot_bits) int(${POW_BITS}) ${ifChallenge}`,
    `http-request set-var(txn.bot_challenge) bool(true) ${ifChallenge}`,
    // A solved challenge reaches the origin; its answer carries the new cookie (also when
    // HAProxy answers itself, e.g. a 503 with every origin down: the work is not lost).
    `http-after-response add-header set-cookie "${cookie}; Secure" if { var(txn.bot_issue) -m bool } { ssl_fc }`,
    `http-after-response add-header set-cookie "${cookie}" if { var(txn.bot_issue) -m bool } !{ ssl_fc }`,
    `http-after-response add-header set-cookie "${POW_COOKIE}=; Path=/; Max-Age=0" if { var(txn.bot_issue) -m bool }`
  ]
}

/** maps/bot-block.map: hostname and aliases of the domains blocking bad bots → 1, sorted. */
export function botBlockMapContent (domains: readonly Domain[], hosts: HostIndex = hostIndex(domains)): string {
  return hostMapText(hosts, domain => domain.bot.blockBadBots ? 1 : undefined)
}

/** maps/bot-challenge.map: hostname and aliases of the domains with the JS challenge → cookie TTL (s), sorted. */
export function botChallengeMapContent (domains: readonly Domain[], hosts: HostIndex = hostIndex(domains)): string {
  return hostMapText(hosts, domain => domain.bot.jsChallenge ? challengeTtl(domain) : undefined)
}

/**
 * Once per node: the frontend lines (bad bots first, then the challenge; each only when a
 * domain of the node uses it), both host maps (always, maybe empty) and the key file.
 * Throws MALFORMED_MESSAGE when a domain has the challenge on but the signed config
 * carries no usable key: serving a challenge signed with an empty key would be forgeable.
 */
export function botFrontendRules (domains: readonly Domain[], ctx: RuleContext): FrontendRules {
  const frontendLines: string[] = []
  const hosts = ctx.hosts ?? hostIndex(domains)
  const files: Record<string, string> = { [BOT_BLOCK_MAP]: botBlockMapContent(domains, hosts), [BOT_CHALLENGE_MAP]: botChallengeMapContent(domains, hosts) }
  if (ctx.node.badBots) frontendLines.push(...badBotLines(ctx))
  if (ctx.node.challenge) {
    if (ctx.config.challengeKey.length < MIN_KEY_BYTES) {
      const domain = domains.find(d => d.bot.jsChallenge)
      throw new LumosError('MALFORMED_MESSAGE', `domain ${domain?.hostname ?? '?'} has the JS challenge on but config version ${ctx.config.version} carries a ${ctx.config.challengeKey.length}-byte challenge key (at least ${MIN_KEY_BYTES} needed); the coordinator must issue the account key`)
    }
    frontendLines.push(...challengeLines(ctx))
    files[CHALLENGE_KEY_FILE] = challengeKeyMap(ctx.config.challengeKey)
  }
  return { frontendLines, files }
}

/**
 * Per backend: the verdicts of the frontend's checks, on every backend of a node that runs
 * them (inert for a domain without the feature: its variables are never set). The bad-bot
 * 403 uses the domain's 403 page; the challenge page is served here, after the blacklist,
 * redirect, rate limit and WAF verdicts, as before the checks moved to the frontend.
 */
export const botRules: RuleModule = (_domain, ctx): DomainRules => {
  // The same for every domain of a render: rebuilt only when what it depends on changes.
  const { badBots, challenge } = ctx.node
  if (lastBotRules === undefined || lastBotRules.badBots !== badBots || lastBotRules.challenge !== challenge || lastBotRules.templatesDir !== ctx.templatesDir) {
    const backendLines: string[] = []
    if (badBots) backendLines.push('http-request deny deny_status 403 if { var(txn.bot_bad) -m bool }')
    if (challenge) backendLines.push(`http-request return status 403 content-type "text/html; charset=utf-8" hdr cache-control no-store hdr x-lumos-challenge js lf-file ${challengePageFile(ctx.templatesDir)} if { var(txn.bot_challenge) -m bool }`)
    const rules = Object.freeze({ backendLines: Object.freeze(backendLines) as string[], files: Object.freeze({}) })
    lastBotRules = { badBots, challenge, templatesDir: ctx.templatesDir, rules }
  }
  return lastBotRules.rules
}

let lastBotRules: { badBots: boolean, challenge: boolean, templatesDir: string, rules: DomainRules } | undefined
