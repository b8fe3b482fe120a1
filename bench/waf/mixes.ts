// The request mixes and domains of the WAF benchmarks, shared by bench/waf/run.ts (wrk
// throughput) and bench/waf/instructions.ts (callgrind instruction counts).
import { createHmac } from 'node:crypto'
import { withDomainDefaults } from '../../proto/domain-settings.ts'
import type { BotSettings, Domain } from '../../proto/codec.ts'
import { CHALLENGE_COOKIE } from '../../node/render/bot-protection.ts'
import type { CorpusRequest } from './corpus-shape.ts'

/** Host every benchmark request carries (in the maps of each frontend, see waf-haproxy.ts). */
export const WRK_HOST = 'bench.example.com'
export const BOT_ON: BotSettings = { blockBadBots: true, jsChallenge: true, challengeTtlS: 3600 }
export const BOT_OFF: BotSettings = { blockBadBots: false, jsChallenge: false, challengeTtlS: 3600 }

export function domain (id: string, owasp: boolean, bot: BotSettings): Domain {
  return withDomainDefaults({ id, hostname: `${id}.example.com`, serverIds: ['bench'], origins: [{ address: '127.0.0.1', port: 80, weight: 100, tls: false }], waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp, paranoia: 1 }, bot })
}

/**
 * The challenge cookie a browser on 127.0.0.1 holds after solving the challenge for
 * WRK_HOST: `<expiry>.<ub64(hmac_sha256(key, "<ip>|<expiry>|<host>"))>`, as
 * node/render/bot-protection.ts has HAProxy issue and verify it. Valid for the TTL.
 */
export function challengeCookie (key: Uint8Array): string {
  const expiry = Math.floor(Date.now() / 1000) + BOT_ON.challengeTtlS - 60
  return `${CHALLENGE_COOKIE}=${expiry}.${createHmac('sha256', key).update(`127.0.0.1|${expiry}|${WRK_HOST}`).digest('base64url')}`
}

/** The request with the challenge cookie added to its Cookie header. */
export function withCookie (r: CorpusRequest, cookie: string): CorpusRequest {
  const existing = r.headers.cookie
  return { ...r, headers: { ...r.headers, cookie: existing === undefined ? cookie : `${existing}; ${cookie}` } }
}

/** The Accept header a browser sends for each kind of resource (what the challenge gate looks at). */
const ACCEPT = {
  page: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  script: '*/*',
  style: 'text/css,*/*;q=0.1',
  image: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8',
  api: 'application/json'
}
const BROWSER_REQUESTS: Array<[string, keyof typeof ACCEPT]> = [['/', 'page'], ['/products?page=2&sort=price', 'page'], ['/static/js/app.3f9a1c.js', 'script'],
  ['/static/css/main.css?v=12', 'style'], ['/search?q=red+shoes', 'page'], ['/blog/2024/05/spring-sale', 'page'], ['/images/products/chair-1.jpg', 'image'],
  ['/api/v1/products?page=3&limit=20', 'api'], ['/favicon.ico', 'image'], ['/account/orders', 'page']]

/**
 * Everyday browser traffic: nothing in it needs a detector (the pre-filter skips Lua).
 * `asBrowser`: each request with the Accept header a browser sends for it (pages are half
 * the mix and pass the challenge-cookie check); otherwise every request asks for HTML, so
 * every one goes through the challenge-cookie check (the pagesOnly worst case).
 */
function browserMix (asBrowser: boolean): CorpusRequest[] {
  return BROWSER_REQUESTS.map(([path, kind]) => ({
    method: 'GET',
    path,
    headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', accept: asBrowser ? ACCEPT[kind] : 'text/html,*/*;q=0.8', cookie: '_ga=GA1.2.1234567890.1700000000; theme=dark' },
    class: 'benign'
  }))
}
export const TYPICAL = browserMix(true)
export const PAGES_ONLY = browserMix(false)
