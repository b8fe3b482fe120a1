// Rate limiting of a domain: requests per window per client IP, counted in a stick table
// owned by the domain's backend (so domains never share counters) and tracked in sc0.
// Over the limit the client gets 429 with Retry-After = the window — the domain's own
// 429 page when it has one, a short text otherwise.
import type { Domain } from '../../proto/codec.ts'
import { HTML_CONTENT_TYPE, hasServableErrorPage } from './error-pages.ts'
import { errorPageFile, inRunDir } from './layout.ts'
import { NO_RULES, type DomainRules, type RuleModule } from './rules.ts'

/** Client IPs remembered per domain; beyond it the least recently seen are evicted. */
export const RATE_LIMIT_TABLE_SIZE = '100k'

export const rateLimitRules: RuleModule = (domain: Domain, ctx): DomainRules => {
  const { rateLimitRequests: limit, rateLimitWindowS } = domain.waf
  if (limit <= 0) return NO_RULES
  const window = Math.max(1, rateLimitWindowS)
  const page = hasServableErrorPage(domain, 429)
  const body = page
    ? `content-type ${HTML_CONTENT_TYPE} file ${inRunDir(ctx.runDir, errorPageFile(domain.id, 429))}`
    : `content-type text/plain string "too many requests, retry in ${window} s"`
  return {
    backendLines: [
      `stick-table type ip size ${RATE_LIMIT_TABLE_SIZE} expire ${window}s store http_req_rate(${window}s)`,
      'http-request track-sc0 src',
      `http-request deny deny_status 429 ${body} hdr Retry-After ${window} if { sc_http_req_rate(0) gt ${limit} }`
    ],
    files: {}
  }
}
