// The WAF against a real HAProxy: the backend lines from wafRules run the Lua detectors in
// front of a loopback origin, and the corpus in test/fixtures/waf is replayed through it.
// Attack classes must be blocked ≥ 90 % each, benign traffic falsely blocked ≤ 1 %; with
// owasp off nothing is blocked. Plus the pure shape of the emitted lines.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import type { Domain } from '../../../proto/codec.ts'
import { wafParanoia, wafRules } from '../../../node/render/waf.ts'
import { NO_RULES, type RuleContext } from '../../../node/render/rules.ts'
import { TARGET_CLASSES, loadCorpus } from '../../../bench/waf/corpus-shape.ts'
import { replayCorpus, scoreResults } from '../../../bench/waf/replay.ts'
import { TEMPLATES_DIR, freePort, startHaproxy, startOrigin, wafHaproxyConfig } from '../../../bench/waf/waf-haproxy.ts'

const attacks = loadCorpus(new URL('../../fixtures/waf/attacks.jsonl', import.meta.url))
const benign = loadCorpus(new URL('../../fixtures/waf/benign.jsonl', import.meta.url))
const ctx = { config: undefined as never, templatesDir: TEMPLATES_DIR, runDir: '/run/lumos' } satisfies RuleContext

function domain (id: string, owasp: boolean, paranoia = 1): Domain {
  return withDomainDefaults({ id, hostname: `${id}.example.com`, serverIds: ['srv_a'], origins: [{ address: '127.0.0.1', port: 80, weight: 100, tls: false }], waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp, paranoia } })
}

const pct = (rate: number): string => `${(rate * 100).toFixed(1)} %`

t.test('a domain without owasp gets no WAF lines', async t => {
  t.same(wafRules(domain('off', false), ctx), NO_RULES)
})

t.test('a domain with owasp runs the Lua action at its paranoia and denies what it flags', async t => {
  const rules = wafRules(domain('on', true, 3), ctx)
  t.match(rules.backendLines[0], /^http-request wait-for-body /)
  t.ok(rules.backendLines.includes('http-request lua.lumos_waf 3 if { var(txn.waf_scan) -m bool }'))
  t.equal(rules.backendLines.at(-1), 'http-request deny deny_status 403 if { var(txn.waf_class) -m found }')
  t.match(rules.backendLines.join('\n'), `-f ${TEMPLATES_DIR}/lua/waf/scanners.txt`, 'the pre-filter reads the scanner list from the templates dir')
  t.same(rules.files, {})
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
  const config = wafHaproxyConfig([{ port: onPort, domain: domain('on', true) }, { port: offPort, domain: domain('off', false) }], origin.port)
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

  const off = scoreResults(await replayCorpus(corpus, { port: offPort, concurrency: 8 }), status => status !== 200)
  t.equal(off.benign.blocked + Object.values(off.attacks).reduce((sum, s) => sum + s.blocked, 0), 0, 'with owasp off every request reaches the origin')
  t.equal(haproxy.stderr().includes('lumos_waf:'), false, 'the Lua action raised no runtime error')
})
