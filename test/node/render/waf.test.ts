// The WAF against a real HAProxy: the frontend lines of wafFrontendRules (Host → paranoia
// map, pre-filter, Lua detectors) and the backend verdict of wafRules in front of a loopback
// origin, and the corpus in test/fixtures/waf replayed through them. Attack classes must be
// blocked ≥ 90 % each, benign traffic falsely blocked ≤ 1 %; with owasp off nothing is
// blocked. Plus the pure shape of the emitted lines and map.
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import type { Domain } from '../../../proto/codec.ts'
import { WAF_DENY_LINE, wafFrontendRules, wafMapContent, wafParanoia, wafRules } from '../../../node/render/waf.ts'
import { NO_RULES, type RuleContext } from '../../../node/render/rules.ts'
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

t.test('the frontend looks the paranoia up by Host, then waits for bodies, pre-filters and runs the Lua action, all gated on it', async t => {
  const rules = wafFrontendRules([domain('on', true, 3)], ctx)
  const [lookup, acl, wait, ...rest] = rules.frontendLines
  t.equal(lookup, 'http-request set-var(txn.waf) req.hdr(host),lower,field(1,:),map(/run/lumos/maps/waf.map)')
  t.equal(acl, 'acl waf_on var(txn.waf) -m found')
  t.match(wait, /^http-request wait-for-body .* if waf_on /)
  t.equal(rest.at(-1), 'http-request lua.lumos_waf if waf_on { var(txn.waf_scan) -m bool }', 'the action takes its paranoia from txn.waf')
  for (const line of rest) t.match(line, /(^| )if waf_on /, 'gated on the map lookup')
  t.match(rules.frontendLines.join('\n'), `-f ${TEMPLATES_DIR}/lua/waf/scanners.txt`, 'the pre-filter reads the scanner list from the templates dir')
  t.same(rules.files, { 'maps/waf.map': 'on.example.com 3\n' })
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
  const [onPort, offPort] = [await freePort(), await freePort()]
  const config = wafHaproxyConfig(dir, [{ port: onPort, domain: domain('on', true) }, { port: offPort, domain: domain('off', false) }], origin.port)
  const haproxy = await startHaproxy(dir, config, [onPort, offPort])
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
