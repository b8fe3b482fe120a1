// Custom error pages of a domain: each page becomes a file under runDir/errors/ and an
// `http-error status N … file <path>` line in the domain's backend, so HAProxy answers its
// own errors for that domain (403 blacklist, 429 rate limit, 502/503/504 origin trouble)
// with the customer's HTML. HAProxy builds such an answer in one buffer (16 KB minus the
// 1 KB rewrite reserve): larger pages are left out with a comment saying why, rather than
// failing `haproxy -c` for every domain of the node.
import type { Domain, ErrorPage } from '../../proto/codec.ts'
import { errorPageFile, inRunDir } from './layout.ts'
import type { DomainRules } from './rules.ts'

/** Largest page body (bytes, UTF-8) that fits HAProxy's response buffer with its headers. */
export const MAX_ERROR_PAGE_BYTES = 15_000
/** Statuses `http-error` accepts in HAProxy 2.6 (and the API allows). */
const HTTP_ERROR_STATUSES = new Set([403, 404, 429, 500, 502, 503, 504])
export const HTML_CONTENT_TYPE = '"text/html; charset=utf-8"'

/** UTF-8 takes 1 to 3 bytes per UTF-16 unit: most pages are decided by their length alone. */
function fitsBytes (html: string): boolean {
  if (html.length * 3 <= MAX_ERROR_PAGE_BYTES) return true
  if (html.length > MAX_ERROR_PAGE_BYTES) return false
  return Buffer.byteLength(html, 'utf8') <= MAX_ERROR_PAGE_BYTES
}

function fits (page: ErrorPage): boolean {
  return HTTP_ERROR_STATUSES.has(page.status) && fitsBytes(page.html)
}

/** The domain's pages HAProxy can serve, sorted by status, last one per status wins. */
export function servableErrorPages (domain: Domain): ErrorPage[] {
  if (domain.errorPages.length === 0) return []
  return [...new Map(domain.errorPages.filter(fits).map(page => [page.status, page])).values()].sort((a, b) => a.status - b.status)
}

/** Whether the domain has a servable page for `status` (the rate limit asks for its 429). */
export function hasServableErrorPage (domain: Domain, status: number): boolean {
  return domain.errorPages.some(page => page.status === status && fits(page))
}

export function errorPageRules (domain: Domain, runDir: string): DomainRules {
  if (domain.errorPages.length === 0) return { backendLines: [], files: {} }
  const backendLines: string[] = []
  const files: Record<string, string> = {}
  for (const page of domain.errorPages) {
    if (fits(page)) continue
    backendLines.push(`# error page ${page.status} left out: ${Buffer.byteLength(page.html, 'utf8')} bytes, HAProxy serves at most ${MAX_ERROR_PAGE_BYTES}`)
  }
  for (const page of servableErrorPages(domain)) {
    const file = errorPageFile(domain.id, page.status)
    files[file] = page.html
    backendLines.push(`http-error status ${page.status} content-type ${HTML_CONTENT_TYPE} file ${inRunDir(runDir, file)}`)
  }
  return { backendLines, files }
}
