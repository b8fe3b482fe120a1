// WAF rules of a domain (OWASP-style attack detection). The detection runs inside HAProxy
// as a Lua action (haproxy-templates/lua/waf.lua, loaded once per thread by the global
// `lua-load-per-thread` line of the template): it decodes and normalizes the path, query
// args, body (form / JSON / multipart), cookies and selected headers and runs the SQLi /
// XSS / command and code injection / LFI / RFI / scanner detectors, so no request leaves
// HAProxy for a verdict. Calling Lua costs more than most requests need, so a native
// pre-filter (PCRE2-JIT regexes) first marks the request for inspection when anything an
// attack needs is present: a body, a URL / cookie byte outside a plain set, a word the
// detectors key on, `..`, a second `=` in a value, a scanner word, a query in the Referer,
// X-Forwarded-For, `${` or `() {` in any header. Plain requests skip Lua entirely.
import { NO_RULES, type DomainRules, type RuleModule } from './rules.ts'

/** Name registered by waf.lua with core.register_action. */
export const WAF_LUA_ACTION = 'lumos_waf'
/** Variable the action sets to the attack class (sqli, xss, cmdi, code, lfi, rfi, scanner). */
export const WAF_CLASS_VAR = 'txn.waf_class'
/** Set by the pre-filter when the Lua detectors must look at the request. */
export const WAF_SCAN_VAR = 'txn.waf_scan'
/** How long a request with a body may take to deliver the part we inspect. */
export const WAF_BODY_WAIT = '2s'
/** Bytes of body to wait for; HAProxy stops earlier when its buffer is full. */
export const WAF_BODY_BYTES = '64k'

/** Bytes a plain URL / Cookie is made of; anything else (%, quotes, <, (, ;, :, …) goes to Lua. */
const URL_UNSAFE = '[^A-Za-z0-9/._~+,=&?-]'
// Escapes are written \\xNN: HAProxy's config parser turns \\ into \ and PCRE2 reads \xNN.
const COOKIE_UNSAFE = String.raw`[^A-Za-z0-9/._~+,=;\\x20-]`
/** Quote, double quote, <, >, backtick, $, %, {, }, backslash, or an SQL comment in the User-Agent. */
const UA_UNSAFE = String.raw`[\\x27\\x22<>\\x60$%{}\\x5c]|--`
/** `${` (Log4Shell and friends) or `() {` (Shellshock) anywhere in the headers. */
const HEADER_INJECTION = String.raw`\\x24\\x7b|\\x28\\s*\\x29\\s*\\x7b`
/** Words a detector can fire on without any special character (1 or true, file=/etc/passwd, cmd=whoami). */
const PLAIN_WORDS = [
  'or', 'and', 'xor', 'not', 'union', 'select', 'sleep', 'benchmark', 'waitfor', 'having', 'order', 'group', 'true', 'false',
  'null', 'etc', 'passwd', 'shadow', 'proc', 'ini', 'system32', 'winnt', 'id_rsa', 'git', 'env', 'htaccess', 'htpasswd',
  'inf', 'aws', 'ssh', 'svn', 'hg', 'ds_store', 'wp', 'whoami', 'uname', 'ifconfig', 'ipconfig', 'netstat', 'systeminfo',
  'tasklist', 'printenv', 'classloader', 'jndi', 'phpinfo', 'sudoers', 'credentials', 'inetpub'
]
const PLAIN_WORDS_RE = `(^|[^a-z0-9])(${PLAIN_WORDS.join('|')})([^a-z0-9]|$)`

/** Paranoia outside 1..4 (or not an integer) is clamped; 1 is the default. */
export function wafParanoia (value: number): number {
  if (!Number.isFinite(value)) return 1
  return Math.min(4, Math.max(1, Math.round(value)))
}

export const wafRules: RuleModule = (domain, ctx): DomainRules => {
  if (!domain.waf.owasp) return NO_RULES
  const scan = `http-request set-var(${WAF_SCAN_VAR}) bool(true) if`
  const hasBody = '{ req.hdr_cnt(content-length) gt 0 } || { req.hdr_cnt(transfer-encoding) gt 0 }'
  return {
    backendLines: [
      `http-request wait-for-body time ${WAF_BODY_WAIT} at-least ${WAF_BODY_BYTES} if ${hasBody}`,
      `${scan} ${hasBody} || { req.hdr_cnt(x-forwarded-for) gt 0 } || { req.fhdr(referer) -m sub ? }`,
      `${scan} { url -m reg ${URL_UNSAFE} } || { url -m sub .. } || { query -m reg =[^&]*= } || { url -i -m reg ${PLAIN_WORDS_RE} }`,
      `${scan} { req.fhdr(cookie) -m reg ${COOKIE_UNSAFE} } || { req.fhdr(cookie) -i -m reg ${PLAIN_WORDS_RE} }`,
      `${scan} { req.fhdr(user-agent),lower -m sub -f ${ctx.templatesDir}/lua/waf/scanners.txt } || { req.fhdr(user-agent) -m reg ${UA_UNSAFE} }`,
      `${scan} { req.hdrs -m reg ${HEADER_INJECTION} }`,
      `http-request lua.${WAF_LUA_ACTION} ${wafParanoia(domain.waf.paranoia)} if { var(${WAF_SCAN_VAR}) -m bool }`,
      `http-request deny deny_status 403 if { var(${WAF_CLASS_VAR}) -m found }`
    ],
    files: {}
  }
}
