// WAF (OWASP-style attack detection) of a node. The detection runs inside HAProxy as a Lua
// action (haproxy-templates/lua/waf.lua, loaded once per thread by the global
// `lua-load-per-thread` line of the template): it decodes and normalizes the path, query
// args, body (form / JSON / multipart), cookies and selected headers and runs the SQLi /
// XSS / command and code injection / LFI / RFI / scanner detectors, so no request leaves
// HAProxy for a verdict. Calling Lua costs more than most requests need, so a native
// pre-filter (PCRE2-JIT regexes) first marks the request for inspection when anything an
// attack needs is present: a body, a URL / cookie byte outside a plain set, a word the
// detectors key on, `..`, a second `=` in a value, a value starting with `//`, a scanner
// word, a query in the Referer, X-Forwarded-For, `${` or `() {` in any header. Plain
// requests skip Lua entirely. Every frontend rule and ACL term costs every request of the
// node (each header fetch walks the header list), so the pre-filter is one regex per
// sample (URL, Cookie, User-Agent, header names, headers) and its terms are one ORed ACL
// (repeated `acl waf_suspect` lines) tested by a single rule; a body is one of its terms
// (Content-Length / Transfer-Encoding among the header names), and wait-for-body runs for
// every WAF request (HAProxy returns at once for a request without body).
// bench/waf/instructions.ts counts the instructions per request of these lines.
//
// Layout — detection once per node, verdict per domain:
//  - frontend (rendered once, only when some domain of the node has waf.owasp): the host
//    key (txn.host_key, also read by the bot-protection lookups), a map lookup
//    `txn.waf = Host → paranoia` (maps/waf.map: hostname and aliases of every WAF
//    domain), then wait-for-body, the pre-filter and the Lua action, all gated on txn.waf.
//    The action reads the paranoia from txn.waf and sets txn.waf_class on an attack.
//    HAProxy compiles (and JITs) each regex of the config once per line it appears on:
//    per backend, 1 000 WAF domains made `haproxy -c` (and every reload) ~6 s slower.
//  - every backend of such a node: one `deny 403 if txn.waf_class is set` line (a var
//    check, nothing to compile). The verdict stays in the backend so the domain's own 403
//    page answers it and the documented order of verdicts holds: blacklist 403, HTTP→HTTPS
//    redirect, rate limit 429 (attack requests still count), WAF 403, bot protection.
//    For a domain without WAF the var is never set, so the line is inert.
// Turning a domain's WAF on or off or changing its paranoia therefore only changes
// maps/waf.map: a runtime-API `add/set/del map`, no reload. Only the first WAF domain of a
// node (or the last one leaving) changes haproxy.cfg.
// What moved: the inspection now runs before the blacklist, the redirect and the rate
// limit instead of after them. Their answers are unchanged (the verdicts above still come
// in that order), but a blacklisted, redirected or rate-limited request of a WAF domain
// that looks suspicious now costs one Lua inspection it did not cost before — bounded by
// the pre-filter, and the price of not compiling the WAF once per domain.
import type { Domain } from '../../proto/codec.ts'
import { hostIndex, hostMapText, type HostIndex } from './host-map.ts'
import { WAF_MAP, inRunDir } from './layout.ts'
import { listedWords, wordsPattern } from './word-pattern.ts'
import { NO_RULES, type DomainRules, type FrontendRules, type RuleContext, type RuleModule } from './rules.ts'

/** Name registered by waf.lua with core.register_action (no argument: paranoia comes from WAF_VAR). */
export const WAF_LUA_ACTION = 'lumos_waf'
/** Paranoia 1..4 of the request's domain, from maps/waf.map; absent for domains without WAF. */
export const WAF_VAR = 'txn.waf'
/** Variable the action sets to the attack class (sqli, xss, cmdi, code, lfi, rfi, scanner) or 'oversize' (waf.lua's limits). */
export const WAF_CLASS_VAR = 'txn.waf_class'
/** How long a request with a body may take to deliver the part we inspect. */
export const WAF_BODY_WAIT = '2s'
/** Bytes of body to wait for; HAProxy stops earlier when its buffer is full. */
export const WAF_BODY_BYTES = '64k'
/** The request's host as the host maps see it (lowercase, without port)… */
export const HOST_KEY = 'req.hdr(host),lower,field(1,:)'
/** …computed once per request by the first frontend module that needs it (this one, else bot protection). */
export const HOST_KEY_VAR = 'txn.host_key'

/** Bytes a plain URL / Cookie is made of; anything else (%, quotes, <, (, ;, :, …) goes to Lua. */
const URL_UNSAFE = '[^A-Za-z0-9/._~+,=&?-]'
// Escapes are written \\xNN: HAProxy's config parser turns \\ into \ and PCRE2 reads \xNN.
const COOKIE_UNSAFE = String.raw`[^A-Za-z0-9/._~+,=;\\x20-]`
/** A value starting with // (a remote include without scheme, //10.0.0.7/share/x.php), spaces (+) allowed before. */
const REMOTE_SHARE = String.raw`=[+\\x20]*//`
/** Quote, double quote, <, >, backtick, $, %, {, }, backslash, or an SQL comment in the User-Agent. */
const UA_UNSAFE = String.raw`[\\x27\\x22<>\\x60$%{}\\x5c]|--`
/** A body (Content-Length, Transfer-Encoding) or X-Forwarded-For, in req.hdr_names (HAProxy stores names lowercase). */
const BODY_OR_FORWARDED = '(?:^|,)(?:content-length|transfer-encoding|x-forwarded-for)(?:,|$)'
/** `${` (Log4Shell and friends) or `() {` (Shellshock) anywhere in the headers. */
const HEADER_INJECTION = String.raw`\\x24\\x7b|\\x28\\s*\\x29\\s*\\x7b`
/** Words a detector can fire on without any special character (1 or true, file=/etc/passwd, cmd=whoami). */
const PLAIN_WORDS = [
  'or', 'and', 'xor', 'not', 'union', 'select', 'sleep', 'benchmark', 'waitfor', 'having', 'order', 'group', 'true', 'false',
  'null', 'etc', 'passwd', 'shadow', 'proc', 'ini', 'system32', 'winnt', 'id_rsa', 'git', 'env', 'htaccess', 'htpasswd',
  'inf', 'aws', 'ssh', 'svn', 'hg', 'ds_store', 'wp', 'whoami', 'uname', 'ifconfig', 'ipconfig', 'netstat', 'systeminfo',
  'tasklist', 'printenv', 'classloader', 'jndi', 'phpinfo', 'sudoers', 'credentials', 'inetpub'
]

/** Paranoia outside 1..4 (or not an integer) is clamped; 1 is the default. */
export function wafParanoia (value: number): number {
  if (!Number.isFinite(value)) return 1
  return Math.min(4, Math.max(1, Math.round(value)))
}

/** maps/waf.map: hostname and aliases of every domain with waf.owasp → its paranoia, sorted. */
export function wafMapContent (domains: readonly Domain[], hosts: HostIndex = hostIndex(domains)): string {
  return hostMapText(hosts, domain => domain.waf.owasp ? wafParanoia(domain.waf.paranoia) : undefined)
}

/**
 * The pre-filter's regexes, one per sample (each fetch and match has a cost of its own):
 * a URL / Cookie byte outside the plain set, the detectors' plain words (caseless), `..`,
 * a second `=` in a query value, a query value starting with `//`; in the User-Agent the
 * unsafe bytes and the scanner words of lua/waf/scanners.txt (caseless substrings, as a
 * trie: see word-pattern.ts).
 */
export function wafPrefilterRegexes (templatesDir: string): { url: string, cookie: string, userAgent: string } {
  let regexes = prefilterRegexes.get(templatesDir)
  if (regexes === undefined) {
    regexes = buildPrefilterRegexes(templatesDir)
    prefilterRegexes.set(templatesDir, regexes)
  }
  return regexes
}

/** Per templates dir: its scanner list is read and turned into a trie once per process, not at every render. */
const prefilterRegexes = new Map<string, Readonly<{ url: string, cookie: string, userAgent: string }>>()

function buildPrefilterRegexes (templatesDir: string): { url: string, cookie: string, userAgent: string } {
  const words = `(?i:(^|[^a-z0-9])(${PLAIN_WORDS.join('|')})([^a-z0-9]|$))`
  // The query is what follows the first ?: anchored there, each = is tried once.
  const query = (re: string): string => String.raw`^[^?]*\\x3f.*?` + re
  return {
    url: `${URL_UNSAFE}|${String.raw`\\x2e\\x2e`}|${query('=[^&]*=')}|${query(REMOTE_SHARE)}|${words}`,
    cookie: `${COOKIE_UNSAFE}|${REMOTE_SHARE}|${words}`,
    userAgent: `${UA_UNSAFE}|${wordsPattern(listedWords(`${templatesDir}/lua/waf/scanners.txt`))}`
  }
}

/**
 * The frontend's WAF lines for a map file at `mapFile` (absolute), in order: look the Host
 * up, wait for the body, pre-filter and inspect (one rule: the Lua action runs when a
 * pre-filter term matches). The verdict is wafRules' backend line.
 */
export function wafFrontendLines (mapFile: string, templatesDir: string): string[] {
  const re = wafPrefilterRegexes(templatesDir)
  // Repeated `acl` lines of one name are ORed: the pre-filter terms as one ACL, so the rule
  // tests waf_on once (HAProxy conditions have no parentheses). A body is a term: no
  // separate body ACL evaluated twice.
  const suspect = 'waf_suspect'
  return [
    `http-request set-var(${HOST_KEY_VAR}) ${HOST_KEY}`,
    `http-request set-var(${WAF_VAR}) var(${HOST_KEY_VAR}),map(${mapFile})`,
    `acl waf_on var(${WAF_VAR}) -m found`,
    `acl ${suspect} req.hdr_names -m reg ${BODY_OR_FORWARDED}`,
    // An HTTP/2 request may carry a body without Content-Length (wait-for-body ran first).
    `acl ${suspect} req.body_size gt 0`,
    `acl ${suspect} req.fhdr(referer) -m sub ?`,
    `acl ${suspect} url -m reg ${re.url}`,
    `acl ${suspect} req.fhdr(cookie) -m reg ${re.cookie}`,
    `acl ${suspect} req.fhdr(user-agent) -m reg ${re.userAgent}`,
    `acl ${suspect} req.hdrs -m reg ${HEADER_INJECTION}`,
    // A request without body passes at once (cheaper than testing for a body first).
    `http-request wait-for-body time ${WAF_BODY_WAIT} at-least ${WAF_BODY_BYTES} if waf_on`,
    `http-request lua.${WAF_LUA_ACTION} if waf_on ${suspect}`
  ]
}

/** The verdict, in a backend: 403 (with the domain's page) when the frontend's inspection named a class. */
export const WAF_DENY_LINE = `http-request deny deny_status 403 if { var(${WAF_CLASS_VAR}) -m found }`

const WAF_RULES: DomainRules = Object.freeze({ backendLines: Object.freeze([WAF_DENY_LINE]) as string[], files: Object.freeze({}) })

/** Once per node: the frontend lines (only when a domain has WAF on) and maps/waf.map (always, maybe empty). */
export function wafFrontendRules (domains: readonly Domain[], ctx: RuleContext): FrontendRules {
  const map = wafMapContent(domains, ctx.hosts)
  return {
    frontendLines: !ctx.node.waf ? [] : wafFrontendLines(inRunDir(ctx.runDir, WAF_MAP), ctx.templatesDir),
    files: { [WAF_MAP]: map }
  }
}

/** Per backend: the verdict line on every backend of a node that runs the WAF, whatever the domain's own setting. */
export const wafRules: RuleModule = (_domain, ctx): DomainRules => {
  return ctx.node.waf ? WAF_RULES : NO_RULES
}
