// Bot protection: the pure frontend lines, maps and backend verdicts for each setting, the bad-bot list policy, and
// the behaviour of those rules in a real HAProxy with a loopback origin — bad bots refused,
// the JS challenge page (its own script run in a vm), cookie issue and verification, and a
// cookie earned on one shield accepted by another shield of the same account only.
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import type { BotSettings } from '../../../proto/codec.ts'
import { BOT_VERIFIED_TABLE, botChallengeMapContent, botFrontendRules, botRules, CHALLENGE_KEY_FILE, POW_BITS, POW_BUCKET_S, zeroBitsMatch } from '../../../node/render/bot-protection.ts'
import type { RuleContext } from '../../../node/render/rules.ts'
import { configWith, freePort, get, HOST, runtimeCommand, solvePow, startOrigin, startShield, TEMPLATES_DIR, type Answer, type Origin, type Shield } from './bot-harness.ts'

const KEY = randomBytes(32)
const ctx: RuleContext = { config: configWith(KEY), templatesDir: '/usr/share/lumos/haproxy-templates', runDir: '/run/lumos', node: { waf: false, badBots: false, challenge: false } }
const domainWith = (bot: Partial<BotSettings>) => withDomainDefaults({ id: 'dom_shop', hostname: HOST, serverIds: ['srv_a'], origins: [], bot: { blockBadBots: false, jsChallenge: false, challengeTtlS: 3600, ...bot } })

// The algorithm of haproxy-templates/pages/challenge.html, independently in Node.
const challengeFor = (key: Uint8Array, ip: string, bucket: number, host = HOST) =>
  createHmac('sha256', key).update(`pow|${ip}|${bucket}|${host}`).digest().subarray(0, 16).toString('base64url')
const cookieFor = (key: Uint8Array, ip: string, expiry: number, host = HOST) =>
  `lumos_chk=${expiry}.${createHmac('sha256', key).update(`${ip}|${expiry}|${host}`).digest('base64url')}`
const solve = (challenge: string) => solvePow(challenge, POW_BITS)
const nowS = () => Math.floor(Date.now() / 1000)
const isChallenge = (answer: Answer) => answer.status === 403 && answer.headers['x-lumos-challenge'] === 'js'
const pageValue = (page: string, name: string) => (new RegExp(`var ${name} = (?:Number\\()?"([^"]*)"`).exec(page) ?? [])[1] ?? ''

/** Runs the script of a served challenge page as a browser would; returns the cookie it set. */
function runPageScript (page: string): string {
  const script = (/<script>([\s\S]*)<\/script>/.exec(page) ?? [])[1] ?? ''
  const cookies: string[] = []
  let reloaded = false
  const storage = new Map<string, string>()
  runInNewContext(script, {
    document: { get cookie () { return cookies.join('; ') }, set cookie (value: string) { cookies.push(value.split(';')[0] ?? '') }, getElementById: () => ({ textContent: '' }) },
    location: { reload: () => { reloaded = true } },
    sessionStorage: { getItem: (k: string) => storage.get(k) ?? null, setItem: (k: string, v: string) => storage.set(k, v) },
    setTimeout: (fn: () => void) => fn()
  })
  if (!reloaded) throw new Error('the challenge page did not reload')
  return cookies.join('; ')
}

// ---- pure rules ----

/** The frontend and backend rules of a one-domain node with these settings. */
function rulesFor (bot: Partial<BotSettings>, key: Uint8Array = KEY): { frontend: string[], backend: string[], files: Record<string, string> } {
  const domain = domainWith(bot)
  const c = { ...ctx, config: configWith(key), node: { waf: false, badBots: domain.bot.blockBadBots, challenge: domain.bot.jsChallenge } }
  const frontend = botFrontendRules([domain], c)
  return { frontend: frontend.frontendLines, backend: botRules(domain, c).backendLines, files: frontend.files }
}

t.test('a node with bot protection off gets no lines, empty host maps and no key file', async t => {
  t.same(rulesFor({}), { frontend: [], backend: [], files: { 'maps/bot-block.map': '', 'maps/bot-challenge.map': '' } })
})

t.test('bad-bot blocking is one frontend match for the hosts of the block map and one deny in the backend', async t => {
  const rules = rulesFor({ blockBadBots: true })
  t.same(rules.frontend, ['http-request set-var(txn.host_key) req.hdr(host),lower,field(1,:)', 'http-request set-var(txn.bot_bad) bool(true) if { var(txn.host_key),map(/run/lumos/maps/bot-block.map) -m found } { req.fhdr(user-agent) -m sub -i -f /usr/share/lumos/haproxy-templates/bad-bots.txt }'])
  const withWaf = botFrontendRules([domainWith({ blockBadBots: true })], { ...ctx, node: { waf: true, badBots: true, challenge: false } })
  t.same(withWaf.frontendLines, rules.frontend.slice(1), 'on a WAF node the WAF lines (rendered first) set the host key')
  t.same(rules.backend, ['http-request deny deny_status 403 if { var(txn.bot_bad) -m bool }'])
  t.same(rules.files, { 'maps/bot-block.map': `${HOST} 1\n`, 'maps/bot-challenge.map': '' })
})

t.test('the challenge reads the key from a map file in the run dir and never writes it into the config', async t => {
  const rules = rulesFor({ jsChallenge: true })
  t.equal(rules.files[CHALLENGE_KEY_FILE], `k ${KEY.toString('base64')}\n`)
  const text = [...rules.frontend, ...rules.backend].join('\n')
  t.match(text, 'str(k),map(/run/lumos/bot/challenge.key)')
  t.match(rules.backend.join('\n'), 'lf-file /usr/share/lumos/haproxy-templates/pages/challenge.html', 'the backend serves the page')
  t.notMatch(text, KEY.toString('base64'))
})

t.test('the challenge TTL comes from the host map: it bounds the cookie lifetime and Max-Age; 0 means the default hour', async t => {
  const map = (ttl: number) => botChallengeMapContent([{ ...domainWith({ jsChallenge: true, challengeTtlS: ttl }), aliases: ['www.shop.example.com'] }])
  t.equal(map(600), `${HOST} 600\nwww.shop.example.com 600\n`)
  t.equal(map(0), `${HOST} 3600\nwww.shop.example.com 3600\n`)
  t.equal(map(10 ** 9), `${HOST} 2592000\nwww.shop.example.com 2592000\n`)
  const text = rulesFor({ jsChallenge: true }).frontend.join('\n')
  t.match(text, 'map_str_int(/run/lumos/maps/bot-challenge.map)')
  t.match(text, 'add(txn.bot_ttl)')
  t.match(text, 'Max-Age=%[var(txn.bot_ttl)];')
})

t.test('the table of verified cookies is a backend of its own, only on a challenge node; only keys shorter than its len are stored', async t => {
  const domain = domainWith({ jsChallenge: true })
  const on = botFrontendRules([domain], { ...ctx, node: { waf: false, badBots: false, challenge: true } })
  t.equal(on.sections?.length, 1)
  const section = on.sections?.[0] ?? ''
  t.match(section, new RegExp(`^backend ${BOT_VERIFIED_TABLE}\n`))
  const [, len, expire] = /stick-table type string len (\d+) size \S+ expire (\d+[sm])$/m.exec(section) ?? []
  t.ok(Number(len) > 8 + 1 + 54 + 1 + 32 + 1 + 259, 'a key of an IPv6 client and a 253-byte host with a port fits')
  t.equal(expire, '1m', 'an entry stays as long as its key can be looked up (its minute)')
  const store = on.frontendLines.find(line => line.startsWith('http-request track-sc2 ')) ?? ''
  t.match(store, `{ var(txn.bot_ck),length -m int lt ${len} }`, 'a key of len bytes would match any longer key cut to len')
  t.match(store, '{ var(txn.bot_ok) -m bool }')
  t.equal(botFrontendRules([domainWith({ blockBadBots: true })], { ...ctx, node: { waf: false, badBots: true, challenge: false } }).sections, undefined)
})

t.test('the hit path is two rules; every path but the challenge page ends the frontend\'s rules with allow', async t => {
  const rules = rulesFor({ jsChallenge: true }).frontend.filter(line => line.startsWith('http-request ')).slice(1)
  t.match(rules[0], /^http-request set-var-fmt\(txn\.bot_ck\) "%\[date,div\(60\)\];%\[req\.cook\(lumos_chk\)\];%\[src,hex\]\|%\[req\.hdr\(host\)\]" if \{ var\(txn\.host_key\),map\(\S+\) -m found \} /)
  t.equal(rules[1], `http-request allow if !{ var(txn.bot_ck) -m found } || { var(txn.bot_ck),in_table(${BOT_VERIFIED_TABLE}) }`)
  t.same(rules.filter(line => line.startsWith('http-request allow ')).length, 3, 'not challengeable or cached; verified; solved')
  t.match(rules.at(-1), /^http-request set-var\(txn\.bot_bits\) /, 'the page is what falls through')
})

t.test('bad bots are refused before the challenge is considered', async t => {
  const lines = rulesFor({ blockBadBots: true, jsChallenge: true }).backend
  t.match(lines[0], /^http-request deny deny_status 403/)
  t.ok(lines.findIndex(line => line.includes('lf-file')) > 0)
})

t.test('rendering twice gives identical rules', async t => {
  t.same(rulesFor({ blockBadBots: true, jsChallenge: true }), rulesFor({ blockBadBots: true, jsChallenge: true }))
})

t.test('the challenge without a usable account key is refused with MALFORMED_MESSAGE', async t => {
  t.throws(() => rulesFor({ jsChallenge: true }, new Uint8Array()), { code: 'MALFORMED_MESSAGE' })
  t.equal(rulesFor({ blockBadBots: true }, new Uint8Array()).files[CHALLENGE_KEY_FILE], undefined)
})

t.test('the zero-bit match works in whole and partial hex digits', async t => {
  t.equal(zeroBitsMatch(16), '-m beg 0000')
  t.equal(zeroBitsMatch(18), '-m reg ^0000[0-3]')
  t.equal(zeroBitsMatch(13), '-m reg ^000[0-7]')
})

t.test('the bad-bot list catches attack tools and spares search engines, browsers and HTTP libraries', async t => {
  const patterns = readFileSync(`${TEMPLATES_DIR}/bad-bots.txt`, 'utf8').split('\n').map(line => line.trim().toLowerCase()).filter(line => line !== '' && !line.startsWith('#'))
  const blocked = (ua: string) => patterns.some(pattern => ua.toLowerCase().includes(pattern))
  for (const ua of ['sqlmap/1.7.2#stable (https://sqlmap.org)', 'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)', 'masscan/1.3 (https://github.com/robertdavidgraham/masscan)', 'Mozilla/5.0 zgrab/0.x', 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)', 'WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)', 'gobuster/3.6', 'Fuzz Faster U Fool v2.1.0']) {
    t.ok(blocked(ua), `blocks ${ua}`)
  }
  for (const ua of ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)', 'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', 'Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)', 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'Twitterbot/1.0', 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0', 'curl/8.5.0', 'Wget/1.21.4', 'python-requests/2.31.0', 'Go-http-client/1.1', 'okhttp/4.12.0']) {
    t.notOk(blocked(ua), `spares ${ua}`)
  }
})

// ---- real HAProxy ----

let origin: Origin
t.before(async () => { origin = await startOrigin() })
t.teardown(async () => { await origin.close() })

async function shield (t: Test, bot: Partial<BotSettings>, key: Uint8Array = KEY, originPort = origin.port): Promise<number> {
  const started = await startShield(bot, key, originPort)
  t.teardown(started.stop)
  return started.port
}

t.test('HAProxy refuses a bad-bot user agent with 403 and passes a normal one when the challenge is off', async t => {
  const port = await shield(t, { blockBadBots: true })
  const hits = origin.hits
  t.equal((await get(port, { headers: { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' } })).status, 403)
  t.equal((await get(port, { headers: { 'user-agent': 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)' } })).status, 403)
  t.equal(origin.hits, hits, 'the origin never saw the bad bots')
  const normal = await get(port)
  t.equal(normal.status, 200)
  t.equal(normal.body, '<h1>origin page</h1>')
  t.equal((await get(port, { headers: { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)' } })).status, 200)
})

t.test('a first browser request gets the challenge page; API and ACME requests pass', async t => {
  const port = await shield(t, { jsChallenge: true })
  const hits = origin.hits
  const page = await get(port)
  t.ok(isChallenge(page), 'challenged')
  t.equal(page.headers['cache-control'], 'no-store')
  t.equal(origin.hits, hits, 'the origin was not asked')
  const bucket = Number(pageValue(page.body, 'bucket'))
  t.ok(Math.abs(bucket - Math.floor(nowS() / POW_BUCKET_S)) <= 1)
  t.equal(pageValue(page.body, 'challenge'), challengeFor(KEY, '127.0.0.1', bucket), 'challenge = hmac(key, pow|ip|bucket|host)')
  t.equal(pageValue(page.body, 'bits'), String(POW_BITS))
  t.equal((await get(port, { headers: { accept: 'application/json' } })).status, 200, 'API clients are not challenged')
  t.equal((await get(port, { method: 'POST' })).status, 200, 'only GET/HEAD are challenged')
  t.equal((await get(port, { path: '/.well-known/acme-challenge/token' })).status, 200, 'ACME is never challenged')
})

t.test('the page script solves the challenge, the origin answers with a signed cookie that then passes', async t => {
  const port = await shield(t, { jsChallenge: true, challengeTtlS: 600 })
  const pow = runPageScript((await get(port)).body)
  t.match(pow, /^lumos_pow=\d+\.\d+$/)
  const hits = origin.hits
  const solved = await get(port, { headers: { cookie: pow } })
  t.equal(solved.status, 200)
  t.equal(solved.body, '<h1>origin page</h1>')
  t.equal(origin.hits, hits + 1)
  const setCookie = solved.headers['set-cookie'] ?? []
  const chk = setCookie.find(line => line.startsWith('lumos_chk=')) ?? ''
  t.match(chk, /^lumos_chk=\d+\.[\w-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/)
  t.ok(setCookie.some(line => line.startsWith('lumos_pow=;')), 'the solution cookie is cleared')
  const cookie = chk.split(';')[0] ?? ''
  const expiry = Number(/=(\d+)\./.exec(cookie)?.[1])
  t.ok(expiry > nowS() + 590 && expiry <= nowS() + 600)
  t.equal(cookie, cookieFor(KEY, '127.0.0.1', expiry), 'cookie = expiry.hmac(key, ip|expiry|host)')
  const again = await get(port, { headers: { cookie: `theme=dark; ${cookie}` } })
  t.equal(again.status, 200)
  t.equal(again.headers['set-cookie'], undefined, 'a verified client is not issued a new cookie')
})

t.test('forged, expired, other-IP, other-host and over-long cookies are challenged again', async t => {
  const port = await shield(t, { jsChallenge: true, challengeTtlS: 600 })
  const expiry = nowS() + 300
  t.equal((await get(port, { headers: { cookie: cookieFor(KEY, '127.0.0.1', expiry) } })).status, 200, 'the genuine cookie passes')
  const cases: Array<[string, string, string?]> = [
    ['forged signature', `lumos_chk=${expiry}.${randomBytes(32).toString('base64url')}`],
    ['signature of another expiry', cookieFor(KEY, '127.0.0.1', expiry).replace(`=${expiry}.`, `=${expiry + 1000}.`)],
    ['expired', cookieFor(KEY, '127.0.0.1', nowS() - 1)],
    ['longer than the TTL', cookieFor(KEY, '127.0.0.1', nowS() + 5000)],
    ['issued to another IP', cookieFor(KEY, '127.0.0.1', expiry), '127.0.0.2'],
    ['issued for another host', cookieFor(KEY, '127.0.0.1', expiry, 'other.example.com')],
    ['garbage', 'lumos_chk=abc']
  ]
  for (const [name, cookie, localAddress] of cases) {
    t.ok(isChallenge(await get(port, { headers: { cookie }, localAddress })), name)
  }
})

const ALIAS = 'www.shop.example.com'
/** The keys of the table of verified cookies. */
async function verifiedKeys (shield: Shield): Promise<string[]> {
  const table = await runtimeCommand(shield, `show table ${BOT_VERIFIED_TABLE}`)
  return [...table.matchAll(/ key=(\S+)/g)].map(m => m[1]!)
}
const minute = () => Math.floor(Date.now() / 60_000)
const ipHex = (ip: string) => Buffer.from(ip.split('.').map(Number)).toString('hex').toUpperCase()
/** The key the frontend looks up: "<minute>;<cookie value>;<ip hex>|<Host header>". */
const cacheKey = (cookie: string, ip: string, host = HOST, at = minute()) => `${at};${cookie.replace('lumos_chk=', '')};${ipHex(ip)}|${host}`
/** Plants a key through the runtime API (';' ends a command there). */
async function plant (shield: Shield, key: string): Promise<void> {
  await runtimeCommand(shield, `set table ${BOT_VERIFIED_TABLE} key ${key.replaceAll(';', '\\;')}`)
}
/** Waits, if needed, until `seconds` are left before the current minute ends, so a test's requests share one minute. */
async function minuteWithRoom (seconds: number): Promise<void> {
  const left = 60_000 - Date.now() % 60_000
  if (left < seconds * 1000) await new Promise(resolve => setTimeout(resolve, left + 200))
}

t.test('a verified cookie is cached for its minute: the next request skips the HMAC; another host, IP or expiry is still verified and refused', async t => {
  const started = await startShield({ jsChallenge: true, challengeTtlS: 600 }, KEY, origin.port, false, [ALIAS])
  t.teardown(started.stop)
  const { port } = started
  t.same(await verifiedKeys(started), [], 'empty at start')
  await minuteWithRoom(15)
  const expiry = nowS() + 300
  const cookie = cookieFor(KEY, '127.0.0.1', expiry)
  t.equal((await get(port, { headers: { cookie } })).status, 200, 'first request: verified by HMAC')
  t.same(await verifiedKeys(started), [cacheKey(cookie, '127.0.0.1')], 'and stored with the minute, cookie, IP and Host')
  const again = await get(port, { headers: { cookie } })
  t.equal(again.status, 200, 'second request: from the cache')
  t.equal(again.headers['set-cookie'], undefined)
  t.same(await verifiedKeys(started), [cacheKey(cookie, '127.0.0.1')], 'a hit stores nothing')
  const cases: Array<[string, string, string?, string?]> = [
    ['the cached cookie for the alias', cookie, undefined, ALIAS],
    ['the cached cookie from another IP', cookie, '127.0.0.2'],
    ['the cached signature with another expiry', cookie.replace(`=${expiry}.`, `=${expiry + 1}.`)],
    ['the cached signature with an expiry plus a suffix', cookie.replace(`=${expiry}.`, `=${expiry}|${HOST}.`)],
    ['the cached cookie plus a quoted part holding the rest of its key', `${cookie}"x;${ipHex('127.0.0.1')}|${HOST}"`]
  ]
  for (const [name, c, localAddress, host] of cases) {
    t.ok(isChallenge(await get(port, { headers: { cookie: c, ...(host === undefined ? {} : { host }) }, localAddress })), name)
  }
  const aliasCookie = cookieFor(KEY, '127.0.0.1', expiry, ALIAS)
  t.equal((await get(port, { headers: { cookie: aliasCookie, host: ALIAS } })).status, 200, "the alias's own cookie passes")
  t.same((await verifiedKeys(started)).sort(), [cacheKey(cookie, '127.0.0.1'), cacheKey(aliasCookie, '127.0.0.1', ALIAS)].sort(), 'only verified cookies were stored')
  // Proof that a hit skips the HMAC: a key planted through the runtime API passes with a forged mac…
  const forged = `lumos_chk=${expiry}.${randomBytes(32).toString('base64url')}`
  t.ok(isChallenge(await get(port, { headers: { cookie: forged } })), 'a forged mac is refused')
  await plant(started, cacheKey(forged, '127.0.0.1'))
  t.ok((await verifiedKeys(started)).includes(cacheKey(forged, '127.0.0.1')), 'planted')
  t.equal((await get(port, { headers: { cookie: forged } })).status, 200, 'a planted key is trusted (the HMAC is skipped)')
  // …but only during its own minute.
  const stale = `lumos_chk=${expiry}.${randomBytes(32).toString('base64url')}`
  await plant(started, cacheKey(stale, '127.0.0.1', HOST, minute() - 1))
  t.ok((await verifiedKeys(started)).includes(cacheKey(stale, '127.0.0.1', HOST, minute() - 1)), 'planted for the previous minute')
  t.ok(isChallenge(await get(port, { headers: { cookie: stale } })), 'a key of a past minute never hits')
})

t.test('a cookie expiring within the minute is never cached: verified by HMAC every time, refused once expired', async t => {
  const started = await startShield({ jsChallenge: true, challengeTtlS: 600 }, KEY, origin.port)
  t.teardown(started.stop)
  await minuteWithRoom(10)
  const expiry = nowS() + 3
  const cookie = cookieFor(KEY, '127.0.0.1', expiry)
  t.equal((await get(started.port, { headers: { cookie } })).status, 200)
  t.equal((await get(started.port, { headers: { cookie } })).status, 200, 'verified by HMAC again')
  t.same(await verifiedKeys(started), [], 'not stored: it expires before the minute ends')
  await new Promise(resolve => setTimeout(resolve, expiry * 1000 - Date.now() + 100))
  t.ok(isChallenge(await get(started.port, { headers: { cookie } })), 'expired: challenged')
  const later = cookieFor(KEY, '127.0.0.1', (minute() + 1) * 60)
  t.equal((await get(started.port, { headers: { cookie: later } })).status, 200)
  t.same(await verifiedKeys(started), [cacheKey(later, '127.0.0.1')], 'a cookie expiring when the minute ends is stored')
})

t.test('only keys shorter than the table\'s len are stored, so a longer key cut to len never hits', async t => {
  const started = await startShield({ jsChallenge: true, challengeTtlS: 600 }, KEY, origin.port)
  t.teardown(started.stop)
  const len = Number(/ len (\d+) /.exec(botFrontendRules([domainWith({ jsChallenge: true })], { ...ctx, node: { waf: false, badBots: false, challenge: true } }).sections?.[0] ?? '')?.[1])
  await minuteWithRoom(15)
  const cookie = cookieFor(KEY, '127.0.0.1', nowS() + 300)
  // Host "<HOST>:000…0": the same host for the signature (the port is dropped), a key of the wanted length.
  const hostFor = (keyLength: number) => `${HOST}:${'0'.repeat(keyLength - cacheKey(cookie, '127.0.0.1', `${HOST}:`).length)}`
  for (const [keyLength, stored] of [[len - 1, true], [len, false], [len + 40, false]] as const) {
    const host = hostFor(keyLength)
    t.equal(cacheKey(cookie, '127.0.0.1', host).length, keyLength)
    t.equal((await get(started.port, { headers: { cookie, host } })).status, 200, `a ${keyLength}-byte key: the cookie is valid`)
    t.equal((await verifiedKeys(started)).includes(cacheKey(cookie, '127.0.0.1', host)), stored, stored ? 'stored' : 'not stored')
  }
  const junk = `${cookie}.${'x'.repeat(20)}`
  t.equal((await get(started.port, { headers: { cookie: junk } })).status, 200, 'a valid cookie with junk after its mac passes')
  t.notOk((await verifiedKeys(started)).some(key => key.includes('xxxx')), 'but is never stored')
  // Why: HAProxy compares a lookup key longer than len on its first len bytes, so a stored
  // key of exactly len bytes would let any longer key starting with it through.
  const forged = `lumos_chk=${nowS() + 300}.${randomBytes(32).toString('base64url')}`
  const host = hostFor(len + 40)
  await plant(started, cacheKey(forged, '127.0.0.1', host).slice(0, len))
  t.equal((await get(started.port, { headers: { cookie: forged, host } })).status, 200, 'a planted len-byte key hits a longer one')
})

t.test('the frontend\'s allow leaves the backend\'s verdicts: a bad bot is refused on every path', async t => {
  const started = await startShield({ blockBadBots: true, jsChallenge: true, challengeTtlS: 600 }, KEY, origin.port)
  t.teardown(started.stop)
  const bot = { 'user-agent': 'sqlmap/1.7.2#stable (https://sqlmap.org)' }
  const cookie = cookieFor(KEY, '127.0.0.1', nowS() + 300)
  t.equal((await get(started.port, { headers: { cookie } })).status, 200, 'a browser stores its cookie')
  t.equal((await get(started.port, { headers: { ...bot, accept: 'application/json' } })).status, 403, 'not challengeable')
  t.equal((await get(started.port, { headers: { ...bot, cookie } })).status, 403, 'a cached cookie')
  t.equal((await get(started.port, { headers: { ...bot, cookie: cookieFor(KEY, '127.0.0.1', nowS() + 400) } })).status, 403, 'a cookie verified by HMAC')
  t.equal((await get(started.port, { headers: bot })).status, 403, 'no cookie')
})

t.test('wrong, stale or other-IP proofs of work are challenged again', async t => {
  const port = await shield(t, { jsChallenge: true })
  const bucket = Math.floor(nowS() / POW_BUCKET_S)
  const stale = bucket - 2
  let wrong = 0
  const challenge = challengeFor(KEY, '127.0.0.1', bucket)
  while (createHash('sha256').update(challenge + wrong).digest().readUInt32BE(0) >>> (32 - POW_BITS) === 0) wrong++
  t.ok(isChallenge(await get(port, { headers: { cookie: `lumos_pow=${bucket}.${wrong}` } })), 'nonce without enough zero bits')
  t.ok(isChallenge(await get(port, { headers: { cookie: `lumos_pow=${stale}.${solve(challengeFor(KEY, '127.0.0.1', stale))}` } })), 'bucket too old')
  t.ok(isChallenge(await get(port, { headers: { cookie: `lumos_pow=${bucket}.${solve(challenge)}` }, localAddress: '127.0.0.2' })), 'solved for another IP')
  t.equal((await get(port, { headers: { cookie: `lumos_pow=${bucket - 1}.${solve(challengeFor(KEY, '127.0.0.1', bucket - 1))}` } })).status, 200, 'the previous bucket is still accepted')
})

t.test('a cookie earned on one shield passes on another shield of the account, not with another key', async t => {
  const first = await shield(t, { jsChallenge: true })
  const page = await get(first)
  const pow = `lumos_pow=${pageValue(page.body, 'bucket')}.${solve(pageValue(page.body, 'challenge'))}`
  const cookie = ((await get(first, { headers: { cookie: pow } })).headers['set-cookie'] ?? [])[0]?.split(';')[0] ?? ''
  t.match(cookie, /^lumos_chk=/)
  const second = await shield(t, { jsChallenge: true })
  const answer = await get(second, { headers: { cookie } })
  t.equal(answer.status, 200)
  t.equal(answer.body, '<h1>origin page</h1>')
  const otherAccount = await shield(t, { jsChallenge: true }, randomBytes(32))
  t.ok(isChallenge(await get(otherAccount, { headers: { cookie } })))
})

t.test('a proof of work solved while every origin is down still earns the cookie', async t => {
  const port = await shield(t, { jsChallenge: true }, KEY, await freePort())
  const page = await get(port)
  const answer = await get(port, { headers: { cookie: `lumos_pow=${pageValue(page.body, 'bucket')}.${solve(pageValue(page.body, 'challenge'))}` } })
  t.equal(answer.status, 503)
  t.match((answer.headers['set-cookie'] ?? [])[0] ?? '', /^lumos_chk=\d+\./)
})
