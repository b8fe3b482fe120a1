// The apply path against a real HAProxy on loopback: every domain setting that shapes
// traffic is checked with real requests — blacklist (403, per domain and account-wide,
// from a chosen source address), runtime-API updates without a reload (blacklist entries,
// aliases, a domain's WAF and bot protection), rate limiting
// (429 + Retry-After), HTTP→HTTPS redirect, per-domain certificates by SNI, error pages.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { HOST, startScene } from './scene.ts'

t.test('a blacklisted client IP gets 403 with the domain\'s page while other clients pass', async t => {
  const scene = await startScene(t)
  const domain = scene.domain({ waf: { ipBlacklist: ['127.0.0.2'], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 }, errorPages: [{ status: 403, html: '<h1>blocked by lumos</h1>\n' }] })
  const result = await scene.apply(scene.version(1, [domain], ['127.0.0.4/32']))
  t.equal(result?.reloaded, true, 'the first version starts HAProxy')
  t.comment(`first apply (render, certs, check, start): ${result?.durationMs.toFixed(0)} ms`)
  const blocked = await scene.get('/x', { from: '127.0.0.2' })
  t.equal(blocked.status, 403, 'the domain blacklist refuses 127.0.0.2')
  t.equal(blocked.body, '<h1>blocked by lumos</h1>\n', 'with the domain\'s 403 page')
  t.equal((await scene.get('/x', { from: '127.0.0.4' })).status, 403, 'the account blacklist refuses 127.0.0.4')
  const allowed = await scene.get('/x', { from: '127.0.0.1' })
  t.equal(allowed.status, 200)
  t.equal(allowed.body, 'origin /x\n', 'other clients reach the origin')
})

t.test('blacklist entries and aliases of a new version go live through the runtime API without a reload', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain()]))
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 200, 'the client passes before it is blacklisted')
  const before = await scene.haproxy.status()
  const cfgBefore = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')

  const added = await scene.apply(scene.version(2, [scene.domain({ aliases: ['www.shop.example.com'], waf: { ipBlacklist: ['127.0.0.3'], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 } })], ['10.9.0.0/16']))
  t.match(added, { reloaded: false, runtime: true }, 'applied through the runtime API')
  t.comment(`runtime-API apply: ${added?.durationMs.toFixed(1)} ms`)
  const after = await scene.haproxy.status()
  t.equal(after?.reloads, before?.reloads, 'the master counted no reload')
  t.same(after?.workerPids, before?.workerPids, 'the same worker serves')
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 403, 'the new blacklist entry takes effect')
  t.equal((await scene.get('/', { from: '127.0.0.1' })).status, 200, 'other clients still pass')
  t.equal((await scene.get('/', { host: 'www.shop.example.com' })).status, 200, 'the new alias is routed')
  const blacklist = await readFile(join(scene.dir, 'maps/blacklist.map'), 'utf8')
  t.match(blacklist, /^10\.9\.0\.0\/16 s[0-9a-f]+\n127\.0\.0\.3 s[0-9a-f]+\n$/, 'the blacklist map is written for the next start')
  t.match(await readFile(join(scene.dir, 'maps/blacklist-sets.map'), 'utf8'), /\|\* 1\n.*\|site_dom_shop 1\n|\|site_dom_shop 1\n.*\|\* 1\n/s)
  const cfgAfter = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')
  t.equal(cfgAfter.replace(/# lumos-render-hash .*\n$/, ''), cfgBefore.replace(/# lumos-render-hash .*\n$/, ''), 'haproxy.cfg is unchanged but for its hash line')

  const removed = await scene.apply(scene.version(3, [scene.domain()]))
  t.match(removed, { reloaded: false, runtime: true }, 'removing entries needs no reload either')
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 200, 'the removed entry no longer blocks')
  t.equal((await scene.get('/', { host: 'www.shop.example.com' })).status, 404, 'the removed alias is no longer routed')
  t.equal((await scene.haproxy.status())?.reloads, before?.reloads, 'still no reload')
  t.same(scene.applier.reloads.map(r => r.result), ['ok'], 'one recorded reload: the start')

  const same = await scene.apply(scene.version(4, [scene.domain()]))
  t.match(same, { reloaded: false, runtime: false }, 'an identical render does nothing')
})

t.test('turning a domain\'s WAF on or off or changing its paranoia goes live through the runtime API without a reload', async t => {
  const scene = await startScene(t)
  const blog = (owasp: boolean, paranoia = 1) => scene.domain({ id: 'dom_blog', hostname: 'blog.example.com', waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp, paranoia } })
  const shop = (paranoia: number) => scene.domain({ waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: true, paranoia } })
  const attack = '/download?file=../../../../etc/passwd'
  const first = await scene.apply(scene.version(1, [shop(1), blog(false)]))
  t.equal(first?.reloaded, true, 'the first version starts HAProxy')
  t.equal((await scene.get(attack)).status, 403, 'the WAF domain blocks the attack')
  t.equal((await scene.get(attack, { host: 'blog.example.com' })).status, 200, 'the domain without WAF lets it through')
  const before = await scene.haproxy.status()
  const cfgBefore = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')

  const on = await scene.apply(scene.version(2, [shop(3), blog(true, 2)]))
  t.match(on, { reloaded: false, runtime: true }, 'WAF on for blog and paranoia 3 for shop: runtime API')
  t.equal(await readFile(join(scene.dir, 'maps/waf.map'), 'utf8'), 'blog.example.com 2\nshop.example.com 3\n', 'the map is written for the next start')
  t.equal((await scene.get(attack, { host: 'blog.example.com' })).status, 403, 'blog now blocks the attack')
  t.equal((await scene.get('/posts?page=2', { host: 'blog.example.com' })).status, 200, 'and passes ordinary requests')

  const off = await scene.apply(scene.version(3, [shop(3), blog(false)]))
  t.match(off, { reloaded: false, runtime: true }, 'WAF off again: runtime API')
  t.equal((await scene.get(attack, { host: 'blog.example.com' })).status, 200, 'blog lets the attack through again')
  t.equal((await scene.get(attack)).status, 403, 'shop still blocks it')

  const after = await scene.haproxy.status()
  t.equal(after?.reloads, before?.reloads, 'the master counted no reload')
  t.same(after?.workerPids, before?.workerPids, 'the same worker serves')
  const cfgAfter = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')
  t.equal(cfgAfter.replace(/# lumos-render-hash .*\n$/, ''), cfgBefore.replace(/# lumos-render-hash .*\n$/, ''), 'haproxy.cfg is unchanged but for its hash line')
})

t.test('turning a domain\'s bad-bot blocking on goes live through the runtime API once the node already runs it', async t => {
  const scene = await startScene(t)
  const bot = (id: string, hostname: string, blockBadBots: boolean) => scene.domain({ id, hostname, bot: { blockBadBots, jsChallenge: false, challengeTtlS: 3600 } })
  await scene.apply(scene.version(1, [bot('dom_shop', HOST, true), bot('dom_blog', 'blog.example.com', false)]))
  const status = await scene.haproxy.status()
  const result = await scene.apply(scene.version(2, [bot('dom_shop', HOST, true), bot('dom_blog', 'blog.example.com', true)]))
  t.match(result, { reloaded: false, runtime: true })
  t.equal((await scene.haproxy.status())?.reloads, status?.reloads, 'no reload')
  t.equal(await readFile(join(scene.dir, 'maps/bot-block.map'), 'utf8'), `blog.example.com 1\n${HOST} 1\n`)
})

t.test('the rate limit answers 429 with Retry-After once a client exceeds N requests in the window', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain({ waf: { ipBlacklist: [], rateLimitRequests: 3, rateLimitWindowS: 20, owasp: false, paranoia: 1 } })]))
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await scene.get(`/r${i}`, { from: '127.0.0.5' })).status)
  t.same(statuses, [200, 200, 200], 'the first N requests pass')
  const limited = await scene.get('/r3', { from: '127.0.0.5' })
  t.equal(limited.status, 429)
  t.equal(limited.headers['retry-after'], '20', 'Retry-After is the window')
  t.equal((await scene.get('/other', { from: '127.0.0.6' })).status, 200, 'another client IP has its own budget')
})

t.test('plain HTTP is redirected to HTTPS with 301 when the domain asks for it, ACME challenges excepted', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain({ tls: { enabled: true, redirectHttp: true } })]))
  const answer = await scene.get('/cart?id=7')
  t.equal(answer.status, 301)
  t.equal(answer.headers.location, `https://${HOST}/cart?id=7`)
  t.equal((await scene.get('/.well-known/acme-challenge/token')).status, 200, 'HTTP-01 challenges stay on plain HTTP')
  t.equal((await scene.getHttps('/cart', HOST)).status, 200, 'HTTPS is served')
})

t.test('an HTTPS client gets the domain\'s self-signed certificate by SNI, others the default one', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain({ aliases: ['www.shop.example.com'], tls: { enabled: true, redirectHttp: false } })]))
  const answer = await scene.getHttps('/secure', 'www.shop.example.com')
  t.equal(answer.status, 200)
  t.equal(answer.body, 'origin /secure\n')
  t.equal(answer.cert?.subject.CN, HOST, 'the certificate is the domain\'s')
  t.equal(answer.cert?.subjectaltname, `DNS:${HOST}, DNS:www.shop.example.com`, 'it covers the hostname and the aliases')
  const other = await scene.getHttps('/', 'unknown.example.net')
  t.equal(other.cert?.subject.CN, 'lumos-default.invalid', 'an unknown SNI gets the default certificate')
  t.equal(other.status, 404)
})

t.test('HAProxy\'s own errors for a domain use its custom error page', async t => {
  const scene = await startScene(t)
  const closedPort = scene.originPort === 1 ? 2 : 1
  await scene.apply(scene.version(1, [scene.domain({
    origins: [{ address: '127.0.0.1', port: closedPort, weight: 100, tls: false }],
    timeouts: { connectMs: 500, serverMs: 5000, clientMs: 30_000 },
    errorPages: [{ status: 503, html: '<h1>we will be right back</h1>\n' }]
  })]))
  const answer = await scene.get('/')
  t.equal(answer.status, 503)
  t.equal(answer.body, '<h1>we will be right back</h1>\n')
  t.match(answer.headers['content-type'], /text\/html/)
})
