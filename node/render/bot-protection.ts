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
// txn.bot_bits (the challenge page is due); every backend of a node using a feature carries one line that acts on
// it (403 with the domain's page; the challenge page). In a backend, those ~35 lines with
// their inline ACLs and the shared key / bad-bot files cost `haproxy -c` about 3 ms per
// domain (30 s at 10 000). Turning either on or off for a domain, or changing its TTL, is
// a map change through the runtime API, no reload (only the node's first / last user of a
// feature changes haproxy.cfg).
//
// Cache of verified cookies: an HMAC costs HAProxy (OpenSSL 3) ~23k instructions, and a
// browser sends the same cookie from the same IP for the same host page after page. A
// cookie whose HMAC matched is remembered in the stick table of backend lumos_bot_verified
// (BOT_VERIFIED_TABLE; a node with the challenge on only) under the key
// "<mac>;<ip>|<expiry>|<host>" — the mac, then the exact signed message. A cookie value
// never holds ';' (it ends the value), so the first ';' ends the mac and a key matches only
// for the same mac over the same message, i.e. a cookie that would pass the HMAC again; a
// key is looked up or stored only when mac is 43 characters and message ≤ 316 (key ≤ 360 =
// the table's len), never truncated — another cookie is just verified by HMAC. The expiry
// window is checked on every request, cache or not, so an expired cookie never passes.
// Entries live BOT_VERIFIED_EXPIRE after their HMAC (a hit does not extend them); a full
// table drops its oldest entries to store new ones (those clients are verified by HMAC again).
// No peers: every start or reload (e.g. a new account key) begins with an empty table.
//
// The key reaches HAProxy as a one-line map file bot/challenge.key in the run dir
// ("k <base64 key>"), read with str(k),map(...) — HAProxy loads maps at start-up, so the
// file can be mode 0600 owned by root and the key never appears in haproxy.cfg.
import { LumosError } from '../../proto/lumos-error.ts'
import { DEFAULT_BOT } from '../../proto/domain-settings.ts'
import type { Domain } from '../../proto/codec.ts'
import { hostIndex, hostMapText, type HostIndex } from './host-map.ts'
import { HOST_KEY, HOST_KEY_VAR } from './waf.ts'
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
/** The stick table (a backend of its own) of cookies whose HMAC matched. */
export const BOT_VERIFIED_TABLE = 'lumos_bot_verified'
/** Longest signed message cached ("<ip>|<expiry>|<host>": 45 + 1 + 10 + 1 + 253 = 310 at most for a real host). */
const VERIFIED_MSG_MAX = 316
/** Table key length: 43-character mac, ';', message. */
const VERIFIED_KEY_LEN = 43 + 1 + VERIFIED_MSG_MAX
/**
 * Entries of the table. Memory is allocated per stored entry, about len + 100 bytes of
 * session and tree overhead: 20 000 × ~460 B ≈ 9 MB at most.
 */
const VERIFIED_SIZE = '20k'
/** How long a verified cookie is trusted without its HMAC (the expiry window is still checked every time). */
export const BOT_VERIFIED_EXPIRE = '2m'

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
  return [`http-request set-var(txn.bot_bad) bool(true) if { var(${HOST_KEY_VAR}),map(${inRunDir(ctx.runDir, BOT_BLOCK_MAP)}) -m found } { req.fhdr(user-agent) -m sub -i -f ${badBotsFile(ctx.templatesDir)} }`]
}

/**
 * The frontend's challenge computation for the domains of maps/bot-challenge.map (Host → TTL).
 * Every rule here is evaluated for every request of the node (HAProxy cannot skip a block
 * of rules), so the lines are few and each is gated by one variable that is absent on the
 * paths that do not need it: txn.bot_host (a challengeable request), txn.bot_hit (a cached
 * cookie: no key, no HMAC), txn.bot_bucket (no valid lumos_chk), txn.bot_issue (a valid
 * proof of work), txn.bot_bits (the page to serve).
 */
function challengeLines (ctx: RuleContext): string[] {
  const keyMap = inRunDir(ctx.runDir, CHALLENGE_KEY_FILE)
  const mac = 'hmac(sha256,txn.bot_key)'
  // "<ip>|<var a>|<host>": src cast to a string as %[src] prints it, then the variables.
  const message = (v: string): string => `src,concat(|,${v},|),concat(,txn.bot_host,)`
  const signed = (v: string): string => `${message(v)},${mac}`
  const cookie = `${CHALLENGE_COOKIE}=%[var(txn.bot_nexp)].%[var(txn.bot_nmac)]; Path=/; Max-Age=%[var(txn.bot_ttl)]; HttpOnly; SameSite=Lax`
  // exp − now, with now the current date (exp: the cookie's expiry, a string cast to an integer)
  const left = 'date,neg,add(txn.bot_exp)'
  // the cookie's expiry window: 1 ≤ exp − now ≤ ttl
  const live = `{ ${left} -m int ge 1 } { ${left},sub(txn.bot_ttl) -m int le 0 }`
  return [
    // Which requests the challenge is for (a challenge domain, a page request); everything else skips all the work below.
    `http-request set-var(txn.bot_ttl) var(${HOST_KEY_VAR}),map_str_int(${inRunDir(ctx.runDir, BOT_CHALLENGE_MAP)})`,
    'acl bot_gate var(txn.bot_host) -m found',
    'acl bot_todo var(txn.bot_bucket) -m found',
    'acl bot_issue var(txn.bot_issue) -m bool',
    'acl bot_hit var(txn.bot_hit) -m bool',
    'http-request set-var(txn.bot_host) req.hdr(host),host_only if { var(txn.bot_ttl) -m found } { req.fhdr(accept) -m sub -i text/html } { method GET HEAD } !{ path_beg /.well-known/ }',
    // lumos_chk=<expiry>.<mac>: signature over ip|expiry|host, expiry in (now, now+ttl].
    // The Cookie header is parsed once (txn.bot_chk), both fields are taken from the value.
    `http-request set-var(txn.bot_chk) req.cook(${CHALLENGE_COOKIE}) if bot_gate`,
    'http-request set-var(txn.bot_exp) var(txn.bot_chk),field(1,.) if bot_gate',
    'http-request set-var(txn.bot_mac) var(txn.bot_chk),field(2,.) if bot_gate',
    `http-request set-var(txn.bot_msg) ${message('txn.bot_exp')} if bot_gate`,
    // The cache key "<mac>;<message>", only when it fits the table's len (never truncated).
    `http-request set-var(txn.bot_ck) var(txn.bot_mac),concat(;,txn.bot_msg) if bot_gate { var(txn.bot_mac),length -m int eq 43 } { var(txn.bot_msg),length -m int le ${VERIFIED_MSG_MAX} }`,
    // In the window, a cookie already verified skips the HMAC (txn.bot_hit); otherwise the HMAC,
    // and a match is stored in the table.
    `http-request set-var(txn.bot_hit) bool(true) if bot_gate ${live} { var(txn.bot_ck),in_table(${BOT_VERIFIED_TABLE}) }`,
    // The key only for what follows (HMAC, proof of work): a cached cookie never reads it.
    `http-request set-var(txn.bot_key) str(k),map(${keyMap}) if bot_gate !bot_hit`,
    `http-request set-var(txn.bot_ok) var(txn.bot_msg),${mac},ub64enc,secure_memcmp(txn.bot_mac) if bot_gate !bot_hit ${live}`,
    `http-request track-sc2 var(txn.bot_ck) table ${BOT_VERIFIED_TABLE} if { var(txn.bot_ok) -m bool } { var(txn.bot_ck) -m found }`,
    // No valid cookie: the current bucket (also the page's), then lumos_pow=<bucket>.<nonce>,
    // whose bucket must be the current or the previous one.
    `http-request set-var(txn.bot_bucket) date,div(${POW_BUCKET_S}) if bot_gate !bot_hit !{ var(txn.bot_ok) -m bool }`,
    `http-request set-var(txn.bot_pn) req.cook(${POW_COOKIE}),field(2,.) if bot_todo`,
    `http-request set-var-fmt(txn.bot_pmsg) "pow|%[src]|%[req.cook(${POW_COOKIE}),field(1,.)]|%[var(txn.bot_host)]" if bot_todo { req.cook(${POW_COOKIE}),field(1,.),neg,add(txn.bot_bucket) -m int 0:1 }`,
    `http-request set-var(txn.bot_issue) bool(true) if bot_todo { var(txn.bot_pmsg),${mac},bytes(0,16),ub64enc,concat(,txn.bot_pn,),sha2(256),hex ${zeroBitsMatch(POW_BITS)} }`,
    `http-request set-var(txn.bot_nexp) date,add(txn.bot_ttl) if bot_issue`,
    `http-request set-var(txn.bot_nmac) ${signed('txn.bot_nexp')},ub64enc if bot_issue`,
    // Neither cookie is valid: the page's values; txn.bot_bits tells the backend to serve it.
    `http-request set-var-fmt(txn.bot_cmsg) "pow|%[src]|%[var(txn.bot_bucket)]|%[var(txn.bot_host)]" if bot_todo !bot_issue`,
    `http-request set-var(txn.bot_chal) var(txn.bot_cmsg),${mac},bytes(0,16),ub64enc if bot_todo !bot_issue`,
    `http-request set-var(txn.bot_bits) int(${POW_BITS}) if bot_todo !bot_issue`,
    // A solved challenge reaches the origin; its answer carries the new cookie (also when
    // HAProxy answers itself, e.g. a 503 with every origin down: the work is not lost).
    `http-after-response add-header set-cookie "${cookie}%[ssl_fc,iif(; Secure,)]" if bot_issue`,
    `http-after-response add-header set-cookie "${POW_COOKIE}=; Path=/; Max-Age=0" if bot_issue`
  ]
}

/** The backend holding only the table of verified cookies (see the header comment). */
export function botVerifiedSection (): string {
  return [
    `backend ${BOT_VERIFIED_TABLE}`,
    `    # key "<mac>;<ip>|<expiry>|<host>", at most ${VERIFIED_KEY_LEN} bytes; ${VERIFIED_SIZE} entries of ~${VERIFIED_KEY_LEN + 100} B: 9 MB at most; no peers (empty after a reload)`,
    `    stick-table type string len ${VERIFIED_KEY_LEN} size ${VERIFIED_SIZE} expire ${BOT_VERIFIED_EXPIRE}`
  ].join('\n')
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
  const sections: string[] = []
  const hosts = ctx.hosts ?? hostIndex(domains)
  const files: Record<string, string> = { [BOT_BLOCK_MAP]: botBlockMapContent(domains, hosts), [BOT_CHALLENGE_MAP]: botChallengeMapContent(domains, hosts) }
  // The WAF's lines (rendered before these when the node runs it) have set the host key.
  if ((ctx.node.badBots || ctx.node.challenge) && !ctx.node.waf) frontendLines.push(`http-request set-var(${HOST_KEY_VAR}) ${HOST_KEY}`)
  if (ctx.node.badBots) frontendLines.push(...badBotLines(ctx))
  if (ctx.node.challenge) {
    if (ctx.config.challengeKey.length < MIN_KEY_BYTES) {
      const domain = domains.find(d => d.bot.jsChallenge)
      throw new LumosError('MALFORMED_MESSAGE', `domain ${domain?.hostname ?? '?'} has the JS challenge on but config version ${ctx.config.version} carries a ${ctx.config.challengeKey.length}-byte challenge key (at least ${MIN_KEY_BYTES} needed); the coordinator must issue the account key`)
    }
    frontendLines.push(...challengeLines(ctx))
    files[CHALLENGE_KEY_FILE] = challengeKeyMap(ctx.config.challengeKey)
    sections.push(botVerifiedSection())
  }
  return sections.length > 0 ? { frontendLines, files, sections } : { frontendLines, files }
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
    if (challenge) backendLines.push(`http-request return status 403 content-type "text/html; charset=utf-8" hdr cache-control no-store hdr x-lumos-challenge js lf-file ${challengePageFile(ctx.templatesDir)} if { var(txn.bot_bits) -m found }`)
    const rules = Object.freeze({ backendLines: Object.freeze(backendLines) as string[], files: Object.freeze({}) })
    lastBotRules = { badBots, challenge, templatesDir: ctx.templatesDir, rules }
  }
  return lastBotRules.rules
}

let lastBotRules: { badBots: boolean, challenge: boolean, templatesDir: string, rules: DomainRules } | undefined
