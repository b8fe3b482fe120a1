// The WAF against a real HAProxy: the frontend lines of wafFrontendRules (Host → paranoia
// map, pre-filter, Lua detectors) and the backend verdict of wafRules in front of a loopback
// origin, and the corpus in test/fixtures/waf replayed through them. Attack classes must be
// blocked ≥ 90 % each, benign traffic falsely blocked ≤ 1 %; with owasp off nothing is
// blocked. Plus the pure shape of the emitted lines and map.
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import type { Domain } from '../../../proto/codec.ts'
import { WAF_DENY_LINE, wafFrontendRules, wafMapContent, wafParanoia, wafPrefilterRegexes, wafRules } from '../../../node/render/waf.ts'
import { NO_RULES, type RuleContext } from '../../../node/render/rules.ts'
import { listedWords, wordsPattern } from '../../../node/render/word-pattern.ts'
import { TARGET_CLASSES, loadCorpus } from '../../../bench/waf/corpus-shape.ts'
import { replayCorpus, scoreResults } from '../../../bench/waf/replay.ts'
import { TEMPLATES_DIR, freePort, startHaproxy, startOrigin, wafHaproxyConfig } from '../../../bench/waf/waf-haproxy.ts'

const attacks = loadCorpus(new URL('../../fixtures/waf/attacks.jsonl', import.meta.url))
const benign = loadCorpus(new URL('../../fixtures/waf/benign.jsonl', import.meta.url))
const ctx = { config: undefined as never, templatesDir: TEMPLATES_DIR, runDir: '/run/lumos', node: { waf: true, badBots: false, challenge: false } } satisfies RuleContext

function domain (id: string, owasp: boolean, paranoia = 1): Domain {
  return withDomainDefaults({ id, hostname: `${id}.example.com`, serverIds: ['srv_a'], origins: [{ address: '127.0.0.1', port: 80, weight: 100, tls: false }], waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp, paranoia } })
}

const pct = (rate: number): string => `${(rate * 100).toFixed(1)} %`

t.test('a node without any owasp domain gets no WAF lines in its frontend or backends, and an empty map', async t => {
  const off = { ...ctx, node: { ...ctx.node, waf: false } }
  t.same(wafFrontendRules([domain('a', false), domain('b', false)], off), { frontendLines: [], files: { 'maps/waf.map': '' } })
  t.same(wafRules(domain('a', false), off), NO_RULES)
})

t.test('the map lists hostname and aliases of the owasp domains with their paranoia, sorted', async t => {
  const shop = { ...domain('shop', true, 3), aliases: ['www.shop.example.com', 'shop.example.com'] }
  t.equal(wafMapContent([domain('off', false), shop, domain('api', true, 7)]), 'api.example.com 4\nshop.example.com 3\nwww.shop.example.com 3\n')
})

t.test('the frontend looks the paranoia up by Host, then waits for bodies and runs the Lua action when the pre-filter matches, all gated on it', async t => {
  const rules = wafFrontendRules([domain('on', true, 3)], ctx)
  const lines = rules.frontendLines
  t.equal(lines[0], 'http-request set-var(txn.host_key) req.hdr(host),lower,field(1,:)', 'the host key, computed once for every host map')
  t.equal(lines[1], 'http-request set-var(txn.waf) var(txn.host_key),map(/run/lumos/maps/waf.map)')
  t.equal(lines[2], 'acl waf_on var(txn.waf) -m found')
  const acls = lines.filter(line => line.startsWith('acl '))
  t.same(acls.map(line => line.split(' ')[1]), ['waf_on', ...Array(7).fill('waf_suspect')], 'the pre-filter terms (a body among them): repeated acl lines, ORed')
  t.match(acls[1], / req\.hdr_names -m reg .*content-length\|transfer-encoding\|x-forwarded-for/, 'a body or X-Forwarded-For is one term on the header names')
  t.match(lines.at(-2), /^http-request wait-for-body .* if waf_on$/)
  t.equal(lines.at(-1), 'http-request lua.lumos_waf if waf_on waf_suspect', 'the action takes its paranoia from txn.waf')
  t.equal(lines.length, 2 + acls.length + 2)
  t.ok(lines.join('\n').includes(wordsPattern(listedWords(`${TEMPLATES_DIR}/lua/waf/scanners.txt`))), 'the pre-filter matches the scanner words of the templates dir')
  t.same(rules.files, { 'maps/waf.map': 'on.example.com 3\n' })
})

t.test('the combined pre-filter regexes decide like the separate checks they replace', async t => {
  // The checks as they were rendered before being merged into one regex per sample.
  const scanners = readFileSync(`${TEMPLATES_DIR}/lua/waf/scanners.txt`, 'utf8').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  const words = /(^|[^a-z0-9])(or|and|xor|not|union|select|sleep|benchmark|waitfor|having|order|group|true|false|null|etc|passwd|shadow|proc|ini|system32|winnt|id_rsa|git|env|htaccess|htpasswd|inf|aws|ssh|svn|hg|ds_store|wp|whoami|uname|ifconfig|ipconfig|netstat|systeminfo|tasklist|printenv|classloader|jndi|phpinfo|sudoers|credentials|inetpub)([^a-z0-9]|$)/i
  const remoteShare = /=[+\x20]*\/\//
  const oldUrl = (url: string): boolean => {
    const q = url.indexOf('?')
    const query = q < 0 ? undefined : url.slice(q + 1)
    return /[^A-Za-z0-9/._~+,=&?-]/.test(url) || url.includes('..') || (query !== undefined && /=[^&]*=/.test(query)) || words.test(url) || (query !== undefined && remoteShare.test(query))
  }
  const oldCookie = (c: string): boolean => /[^A-Za-z0-9/._~+,=;\x20-]/.test(c) || words.test(c) || remoteShare.test(c)
  const oldUa = (ua: string): boolean => scanners.some(s => ua.toLowerCase().includes(s)) || /[\x27\x22<>\x60$%{}\x5c]|--/.test(ua)
  // haproxy.cfg's \\xNN is PCRE2's \xNN. V8 mis-handles a (?i:…) group with this many
  // alternatives, so each top-level alternative becomes a RegExp of its own (a caseless
  // group one with the i flag): their union matches what the whole pattern matches.
  const js = (pattern: string): { test: (s: string) => boolean } => {
    const text = pattern.replaceAll('\\\\', '\\')
    const alternatives: string[] = []
    let [depth, inClass, start] = [0, false, 0]
    for (let i = 0; i < text.length; i++) {
      const c = text[i]
      if (c === '\\') i++
      else if (inClass) inClass = c !== ']'
      else if (c === '[') inClass = true
      else if (c === '(') depth++
      else if (c === ')') depth--
      else if (c === '|' && depth === 0) { alternatives.push(text.slice(start, i)); start = i + 1 }
    }
    alternatives.push(text.slice(start))
    const res = alternatives.map(a => a.startsWith('(?i:') && a.endsWith(')') ? new RegExp(a.slice(4, -1), 'i') : new RegExp(a))
    return { test: (s: string) => res.some(r => r.test(s)) }
  }
  const re = wafPrefilterRegexes(TEMPLATES_DIR)
  const [url, cookie, ua] = [js(re.url), js(re.cookie), js(re.userAgent)]
  const urls = new Set(['/', '/a..b', '/a?b=c=d', '/a?b=c&d=e', '/a=b=c?d=e', '/a=b?c', '/a?b=//x', '/a?b=++//x', '/a//b?c=d', '/a?b=c//d', '/x?a=1&b=%2F', '/OR/', '/a?q=Select', '/a?q=selection', '/?', '/??=a=', '/a?b&c=d&e=f=g', '/a?=', '/a?==', '/etc/x', '/wp-admin', '/p?q=red+shoes'])
  const cookies = new Set(['a=b', 'a=b; c=d', 'a=b=c', 't=//x', 't= //x', 'sid=null', 'x=Or', 'x=é', 'a=b;c'])
  const uas = new Set(['Mozilla/5.0', 'sqlmap/1.7', 'Mozilla SQLMap', 'x--y', 'a"b', 'Fuzz Faster U Fool', 'nmap', 'Zgrab'])
  for (const r of [...attacks, ...benign]) {
    urls.add(r.path)
    for (const [name, value] of Object.entries(r.headers)) {
      if (name.toLowerCase() === 'cookie') cookies.add(value)
      if (name.toLowerCase() === 'user-agent') uas.add(value)
    }
  }
  let differ = 0
  for (const u of urls) if (url.test(u) !== oldUrl(u)) { differ++; t.fail(`url ${u}: ${url.test(u)} instead of ${oldUrl(u)}`) }
  for (const c of cookies) if (cookie.test(c) !== oldCookie(c)) { differ++; t.fail(`cookie ${c}: ${cookie.test(c)} instead of ${oldCookie(c)}`) }
  for (const u of uas) if (ua.test(u) !== oldUa(u)) { differ++; t.fail(`user agent ${u}: ${ua.test(u)} instead of ${oldUa(u)}`) }
  t.equal(differ, 0, `${urls.size} URLs, ${cookies.size} cookies, ${uas.size} user agents decided alike`)
})

t.test('every backend of a WAF node denies with 403 what the frontend flagged, whatever its own setting', async t => {
  t.same(wafRules(domain('on', true, 2), ctx), { backendLines: [WAF_DENY_LINE], files: {} })
  t.same(wafRules(domain('off', false), ctx), { backendLines: [WAF_DENY_LINE], files: {} })
  t.equal(WAF_DENY_LINE, 'http-request deny deny_status 403 if { var(txn.waf_class) -m found }')
})

t.test('paranoia outside 1..4 is clamped', async t => {
  t.same([0, 1, 2.4, 4, 9, Number.NaN].map(wafParanoia), [1, 1, 2, 4, 4, 1])
})

t.test('the corpus replayed through HAProxy: ≥ 90 % of each attack class blocked, ≤ 1 % benign blocked, nothing blocked with owasp off', async t => {
  // HAProxy refuses long unix socket paths; keep the dir short.
  const dir = mkdtempSync(join(tmpdir(), 'lwaf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const origin = await startOrigin()
  t.teardown(() => { origin.server.closeAllConnections(); origin.server.close() })
  const [onPort, offPort, h2Port] = [await freePort(), await freePort(), await freePort()]
  // The "on" frontend also speaks cleartext HTTP/2 (as the TLS bind does after ALPN h2).
  const config = wafHaproxyConfig(dir, [{ port: onPort, domain: domain('on', true) }, { port: offPort, domain: domain('off', false) }], origin.port)
    .replace(`bind 127.0.0.1:${onPort}\n`, `bind 127.0.0.1:${onPort}\n    bind 127.0.0.1:${h2Port} proto h2\n`)
  const haproxy = await startHaproxy(dir, config, [onPort, offPort, h2Port])
  t.teardown(haproxy.stop)

  const corpus = [...attacks, ...benign]
  t.ok(attacks.length >= 300 && benign.length >= 300, 'both corpora hold at least 300 requests')
  const on = scoreResults(await replayCorpus(corpus, { port: onPort, concurrency: 8 }))
  for (const [cls, score] of Object.entries(on.attacks)) t.comment(`owasp on  ${cls.padEnd(8)} blocked ${score.blocked}/${score.total} = ${pct(score.rate)}`)
  t.comment(`owasp on  benign   falsely blocked ${on.benign.blocked}/${on.benign.total} = ${pct(on.benign.rate)}`)
  for (const req of on.missed) t.comment(`missed ${req.class}: ${req.method} ${req.path} ${req.body ?? ''}`)
  for (const req of on.falsePositives) t.comment(`false positive: ${req.method} ${req.path} ${req.body ?? ''}`)

  for (const cls of [...TARGET_CLASSES, 'code' as const]) {
    const score = on.attacks[cls]
    t.ok(score !== undefined && score.total > 0, `the corpus has ${cls} attacks`)
    t.ok((score?.rate ?? 0) >= 0.9, `${cls} blocked ${pct(score?.rate ?? 0)} ≥ 90 %`)
  }
  t.ok(on.benign.rate <= 0.01, `benign falsely blocked ${pct(on.benign.rate)} ≤ 1 %`)

  // waf.lua keeps recent verdicts per thread: a second pass is answered mostly from that
  // cache and must give every request the same answer (attacks stay blocked).
  const first = await replayCorpus(corpus, { port: onPort, concurrency: 8 })
  const again = await replayCorpus(corpus, { port: onPort, concurrency: 8 })
  const changed = again.filter((r, i) => r.status !== first[i]!.status)
  for (const r of changed) t.comment(`answer changed on replay: ${r.request.class} ${r.request.method} ${r.request.path} ${first[again.indexOf(r)]!.status} → ${r.status}`)
  t.equal(changed.length, 0, 'replaying the corpus (verdicts now cached) changes no answer')

  // HTTP/2 needs no Content-Length for a body: such a body is inspected too.
  const h2Post = async (body: string): Promise<number> => {
    const session = http2.connect(`http://127.0.0.1:${h2Port}`)
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/login', host: 'waf.test', 'content-type': 'application/x-www-form-urlencoded' })
      stream.end(body)
      const [headers] = await once(stream, 'response') as [http2.IncomingHttpHeaders]
      stream.resume()
      return Number(headers[':status'])
    } finally {
      session.close()
    }
  }
  t.equal(await h2Post("user=admin' union select password from users--"), 403, 'an HTTP/2 body without Content-Length is inspected: SQL injection blocked')
  t.equal(await h2Post('user=alice&remember=on'), 200, 'a harmless HTTP/2 body without Content-Length passes')

  // An attack in a repeated header line is seen too, not only the first occurrence's value.
  const twoCookieLines = async (second: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = connect(onPort, '127.0.0.1', () => socket.end(`GET /account HTTP/1.1\r\nhost: waf.test\r\ncookie: sid=8f14e45fceea167a\r\ncookie: ${second}\r\nconnection: close\r\n\r\n`))
    let answer = ''
    socket.on('data', chunk => { answer += chunk.toString() })
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''))
    socket.on('error', reject)
  })
  t.match(await twoCookieLines('theme=dark'), / 200 /, 'two harmless Cookie lines pass')
  t.match(await twoCookieLines('uid=1%27%20OR%20%271%27%3D%271'), / 403 /, 'an injection in the second Cookie line is blocked')

  // The pre-filter must hand Lua every request a detector can fire on: a remote include by
  // IP with no scheme is made only of bytes a plain URL / Cookie has.
  const [remoteQuery] = await replayCorpus([{ method: 'GET', path: '/index.php?page=//10.0.0.7/share/shell.php', headers: {}, class: 'rfi' }], { port: onPort })
  t.equal(remoteQuery!.status, 403, '?page=//10.0.0.7/share/shell.php is blocked')
  const [remoteCookie] = await replayCorpus([{ method: 'GET', path: '/index.php', headers: { cookie: 'template=//10.0.0.7/share/x.php' }, class: 'rfi' }], { port: onPort })
  t.equal(remoteCookie!.status, 403, 'cookie template=//10.0.0.7/share/x.php is blocked')

  const off = scoreResults(await replayCorpus(corpus, { port: offPort, concurrency: 8 }), status => status !== 200)
  t.equal(off.benign.blocked + Object.values(off.attacks).reduce((sum, s) => sum + s.blocked, 0), 0, 'with owasp off every request reaches the origin')
  t.equal(haproxy.stderr().includes('lumos_waf:'), false, 'the Lua action raised no runtime error')
})

t.test('padding: more values than the WAF reads are refused; from paranoia 2 so is a body HAProxy could not buffer whole, unless multipart', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'lwaf-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const origin = await startOrigin()
  t.teardown(() => { origin.server.closeAllConnections(); origin.server.close() })
  const [pl1, pl2] = [await freePort(), await freePort()]
  const haproxy = await startHaproxy(dir, wafHaproxyConfig(dir, [{ port: pl1, domain: domain('pl1', true, 1) }, { port: pl2, domain: domain('pl2', true, 2) }], origin.port), [pl1, pl2])
  t.teardown(haproxy.stop)
  const send = async (port: number, method: string, path: string, body?: string, type = 'application/x-www-form-urlencoded'): Promise<number> => {
    const [result] = await replayCorpus([{ method, path, headers: body === undefined ? {} : { 'content-type': type }, body, class: 'benign' }], { port })
    return result!.status
  }
  const sqli = encodeURIComponent("admin' union select password from users--")
  const params = (n: number): string => Array.from({ length: n }, (_, i) => `a${i}=1`).join('&')
  const padded = `pad=${'a'.repeat(20_000)}&user=${sqli}`
  const bigForm = `title=hi&text=${'lorem ipsum dolor sit amet '.repeat(1_500)}`
  const boundary = 'lumosboundary'
  const upload = `--${boundary}\r\ncontent-disposition: form-data; name="title"\r\n\r\nholiday\r\n--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\ncontent-type: application/octet-stream\r\n\r\n${'x'.repeat(200_000)}\r\n--${boundary}--\r\n`
  const cases: Array<[string, number, () => Promise<number>]> = [
    ['an injection in the query after 1 100 parameters', 403, async () => await send(pl1, 'GET', `/search?${params(1100)}&q=${sqli}`)],
    ['a form body of 1 100 harmless parameters (what follows the 1 000th is unread)', 403, async () => await send(pl1, 'POST', '/form', params(1100))],
    ['a form of 900 harmless parameters', 200, async () => await send(pl1, 'POST', '/form', params(900))],
    ['paranoia 1: an injection after a 20 KB parameter is beyond what HAProxy buffers (not read)', 200, async () => await send(pl1, 'POST', '/login', padded)],
    ['paranoia 1: a 40 KB harmless form body passes', 200, async () => await send(pl1, 'POST', '/post', bigForm)],
    ['paranoia 2: an injection after a 20 KB parameter', 403, async () => await send(pl2, 'POST', '/login', padded)],
    ['paranoia 2: an injection in JSON after a 20 KB string', 403, async () => await send(pl2, 'POST', '/api', JSON.stringify({ pad: 'a'.repeat(20_000), user: "admin' union select password from users--" }), 'application/json')],
    ['paranoia 2: a 40 KB form body, unreadable whole', 403, async () => await send(pl2, 'POST', '/post', bigForm)],
    ['paranoia 2: a 10 KB harmless form body', 200, async () => await send(pl2, 'POST', '/post', `title=hi&text=${'lorem ipsum dolor sit amet '.repeat(380)}`)],
    ['paranoia 2: a 200 KB multipart upload (its file is not inspected)', 200, async () => await send(pl2, 'POST', '/upload', upload, `multipart/form-data; boundary=${boundary}`)]
  ]
  for (const [name, expected, run] of cases) t.equal(await run(), expected, name)
  t.equal(haproxy.stderr().includes('lumos_waf:'), false, 'the Lua action raised no runtime error')
})
