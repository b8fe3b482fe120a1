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
// Hit and miss paths. HAProxy evaluates every http-request rule of a section for every
// request (no jump), so the challenge lines end the frontend's rules early with
// `http-request allow`: it stops the http-request rules of the frontend only — the
// backend's (WAF, bad-bot and challenge verdicts, rate limit) still run. The bot lines are
// therefore the last http-request lines of the frontend (render.ts renders them last).
//   hit path (two rules):
//     1. txn.bot_ck = "<minute>;<lumos_chk value>;<client address, hex>|<Host header>", set
//        for a challengeable request only (minute = floor(now / 60), VERIFIED_SLOT_S);
//     2. allow when txn.bot_ck is unset (not challengeable) or is a key of the table (hit).
//   miss: the TTL, host, the cookie's fields and the account key, then the HMAC and expiry
//     window (txn.bot_ok); a verified cookie is stored when storable (see below), allow.
//   no valid cookie: a valid lumos_pow earns a cookie (txn.bot_nexp; Set-Cookie is added
//     after the response), allow; otherwise the page's values (txn.bot_bits: the backend
//     serves the page).
//
// Cache of verified cookies: an HMAC costs HAProxy (OpenSSL 3) ~23k instructions, and a
// browser sends the same cookie from the same IP for the same host page after page. A
// cookie that passed the HMAC and window checks is remembered in the stick table of backend
// lumos_bot_verified (BOT_VERIFIED_TABLE; a node with the challenge on only) under
// txn.bot_ck. A hit skips the checks: it is as good as running them because they depend on
// the cookie value, client address, Host, time, TTL and account key only, and
//   - the key determines the first three: <minute> is digits; a stored key has a cookie
//     "<digits>.<43 base64url>" (checked before storing) and HAProxy's cookie value holds
//     ';' only inside a '"'-quoted part, which a stored key never has before its second ';'
//     — so in any key equal to a stored one, the second ';' ends the cookie; the address
//     (4 or 16 bytes in hex, so family and bytes) holds no '|', so the first '|' after it
//     starts the Host. A cookie for another host, from another address or with another
//     expiry never hits.
//   - time: a key names its minute, and a cookie is stored only if it expires after that
//     minute ends (expiry ≥ (minute + 1) × 60): during the only minute its key can be
//     looked up, the cookie is unexpired. Its upper bound (expiry ≤ time of the HMAC + TTL)
//     only gets truer. This does not rely on the table's expire: HAProxy 2.6 keeps an entry
//     past its expire while a stream that tracked it is alive (a slow download can hold it
//     for hours; lookups do not refresh entries) — the minute in the key makes such an
//     entry unreachable. A stepped clock changes the minute too.
//   - a TTL lowered through the map applies to cached cookies from the next minute on; the
//     account key changes only with a reload, which empties the table (no peers).
//   - length: HAProxy compares a lookup key longer than the table's len (360) on its first
//     360 bytes, which could equal a stored key of exactly 360 bytes; only keys shorter
//     than 360 are stored (a real key is at most 8 + 1 + 54 + 1 + 32 + 1 + 259 = 356
//     bytes), so an over-long lookup never hits.
// A valid cookie that is not storable (expiring within the minute, junk after the mac, an
// over-long Host) is verified by HMAC on every request. A client is verified by HMAC once a
// minute. Entries expire BOT_VERIFIED_EXPIRE after they are stored; a full table drops its
// oldest entries to store new ones (those clients are verified by HMAC again).
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
/** The time slot of a cache key: a cached cookie is trusted only during the minute it was verified in. */
const VERIFIED_SLOT_S = 60
/** The table's key length; only shorter keys are stored (see the header comment). */
const VERIFIED_KEY_LEN = 360
/** A storable key up to its Host: minute, a cookie exactly "<expiry>.<43 base64url>", hex address. */
const STORABLE_KEY = '^[0-9]+;[0-9]+[.][A-Za-z0-9_-]{43};[0-9A-F]+[|]'
/**
 * Entries of the table. Memory is allocated per stored entry, about len + 100 bytes of
 * session and tree overhead: 20 000 × ~460 B ≈ 9 MB at most.
 */
const VERIFIED_SIZE = '20k'
/** How long an entry stays in the table: a key is useless after its minute, so one minute. */
export const BOT_VERIFIED_EXPIRE = '1m'

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

/** "<ip>|<var a>|<host>": src cast to a string as %[src] prints it, then the variables. */
function message (v: string): string {
  return `src,concat(|,${v},|),concat(,txn.bot_host,)`
}

const MAC = 'hmac(sha256,txn.bot_key)'

/**
 * The hit path, for every request: the cache key of a challengeable request (a challenge
 * domain, a page request), then the end of the frontend's rules unless the request is
 * challengeable and its key is not in the table.
 */
function lookupLines (ctx: RuleContext): string[] {
  const challengeable = `{ var(${HOST_KEY_VAR}),map(${inRunDir(ctx.runDir, BOT_CHALLENGE_MAP)}) -m found } { req.fhdr(accept) -m sub -i text/html } { method GET HEAD } !{ path_beg /.well-known/ }`
  return [
    `http-request set-var-fmt(txn.bot_ck) "%[date,div(${VERIFIED_SLOT_S})];%[req.cook(${CHALLENGE_COOKIE})];%[src,hex]|%[req.hdr(host)]" if ${challengeable}`,
    `http-request allow if !{ var(txn.bot_ck) -m found } || { var(txn.bot_ck),in_table(${BOT_VERIFIED_TABLE}) }`
  ]
}

/**
 * A miss: lumos_chk=<expiry>.<mac> is checked (signature over ip|expiry|host, expiry in
 * (now, now + ttl]); a valid cookie is stored when its key is storable and ends the rules.
 */
function verifyLines (ctx: RuleContext): string[] {
  // exp − now, with now the current date (exp: the cookie's expiry, a string cast to an integer)
  const left = 'date,neg,add(txn.bot_exp)'
  const ok = '{ var(txn.bot_ok) -m bool }'
  // Storable: shorter than the table's len, the exact shape, expiring after the key's minute.
  const storable = `{ var(txn.bot_ck),length -m int lt ${VERIFIED_KEY_LEN} } { var(txn.bot_ck) -m reg ${STORABLE_KEY} } { var(txn.bot_ck),field(1,;),add(1),mul(${VERIFIED_SLOT_S}),sub(txn.bot_exp) -m int le 0 }`
  return [
    `http-request set-var(txn.bot_ttl) var(${HOST_KEY_VAR}),map_str_int(${inRunDir(ctx.runDir, BOT_CHALLENGE_MAP)})`,
    'http-request set-var(txn.bot_host) req.hdr(host),host_only',
    `http-request set-var(txn.bot_exp) req.cook(${CHALLENGE_COOKIE}),field(1,.)`,
    `http-request set-var(txn.bot_mac) req.cook(${CHALLENGE_COOKIE}),field(2,.)`,
    `http-request set-var(txn.bot_key) str(k),map(${inRunDir(ctx.runDir, CHALLENGE_KEY_FILE)})`,
    `http-request set-var(txn.bot_ok) ${message('txn.bot_exp')},${MAC},ub64enc,secure_memcmp(txn.bot_mac) if { ${left} -m int ge 1 } { ${left},sub(txn.bot_ttl) -m int le 0 }`,
    `http-request track-sc2 var(txn.bot_ck) table ${BOT_VERIFIED_TABLE} if ${ok} ${storable}`,
    `http-request allow if ${ok}`
  ]
}

/**
 * No valid lumos_chk: the current bucket (also the page's), then lumos_pow=<bucket>.<nonce>,
 * whose bucket must be the current or the previous one. A valid one earns a cookie (and
 * ends the rules); otherwise the page's values, txn.bot_bits telling the backend to serve it.
 */
function proofOfWorkLines (): string[] {
  return [
    `http-request set-var(txn.bot_bucket) date,div(${POW_BUCKET_S})`,
    `http-request set-var(txn.bot_pn) req.cook(${POW_COOKIE}),field(2,.)`,
    `http-request set-var-fmt(txn.bot_pmsg) "pow|%[src]|%[req.cook(${POW_COOKIE}),field(1,.)]|%[var(txn.bot_host)]" if { req.cook(${POW_COOKIE}),field(1,.),neg,add(txn.bot_bucket) -m int 0:1 }`,
    `http-request set-var(txn.bot_nexp) date,add(txn.bot_ttl) if { var(txn.bot_pmsg),${MAC},bytes(0,16),ub64enc,concat(,txn.bot_pn,),sha2(256),hex ${zeroBitsMatch(POW_BITS)} }`,
    `http-request set-var(txn.bot_nmac) ${message('txn.bot_nexp')},${MAC},ub64enc if bot_issue`,
    'http-request allow if bot_issue',
    `http-request set-var-fmt(txn.bot_cmsg) "pow|%[src]|%[var(txn.bot_bucket)]|%[var(txn.bot_host)]"`,
    `http-request set-var(txn.bot_chal) var(txn.bot_cmsg),${MAC},bytes(0,16),ub64enc`,
    `http-request set-var(txn.bot_bits) int(${POW_BITS})`
  ]
}

/**
 * The frontend's challenge lines for the domains of maps/bot-challenge.map (Host → TTL):
 * the hit path, the miss, the proof of work, and the cookie of a solved challenge on the
 * answer (also when HAProxy answers itself, e.g. a 503 with every origin down: the work is
 * not lost). They end with `http-request allow` on every path but the page: nothing may
 * follow them in the frontend.
 */
function challengeLines (ctx: RuleContext): string[] {
  const cookie = `${CHALLENGE_COOKIE}=%[var(txn.bot_nexp)].%[var(txn.bot_nmac)]; Path=/; Max-Age=%[var(txn.bot_ttl)]; HttpOnly; SameSite=Lax`
  return [
    'acl bot_issue var(txn.bot_nexp) -m found',
    ...lookupLines(ctx),
    ...verifyLines(ctx),
    ...proofOfWorkLines(),
    `http-after-response add-header set-cookie "${cookie}%[ssl_fc,iif(; Secure,)]" if bot_issue`,
    `http-after-response add-header set-cookie "${POW_COOKIE}=; Path=/; Max-Age=0" if bot_issue`
  ]
}

/** The backend holding only the table of verified cookies (see the header comment). */
export function botVerifiedSection (): string {
  return [
    `backend ${BOT_VERIFIED_TABLE}`,
    `    # key "<minute>;<cookie>;<ip hex>|<Host>", stored only when shorter than ${VERIFIED_KEY_LEN} bytes; ${VERIFIED_SIZE} entries of ~${VERIFIED_KEY_LEN + 100} B: 9 MB at most; no peers (empty after a reload)`,
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
