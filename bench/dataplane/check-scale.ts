// bench/dataplane/check-scale: how long `haproxy -c` takes on one node's rendered config
// (the same parse every reload pays) at 1 000 and 10 000 domains, for the bare config
// (no WAF, rate limit, blacklist entries or bot protection) and with every feature on
// (owasp, rate limit, per-domain and account blacklist entries, bad bots + JS challenge),
// plus the render time of each. Writes bench/results/haproxy-check.json.
// Usage: node bench/dataplane/check-scale.ts [--domains 1000,10000] [--variants bare,all] [--label name]
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { renderHaproxyConfig } from '../../node/render/render.ts'
import { SelfSignedCerts } from '../../node/tls/self-signed-certs.ts'
import type { ConfigVersion } from '../../proto/codec.ts'
import { largeConfig } from '../envelope-size.ts'
import { percentile } from '../lib/stats.ts'

const run = promisify(execFile)
const TEMPLATES_DIR = new URL('../../haproxy-templates', import.meta.url).pathname
const template = await readFile(join(TEMPLATES_DIR, 'haproxy.cfg.tpl'), 'utf8')
const SERVER = 'srv_000000000000'
const { values } = parseArgs({ options: { domains: { type: 'string', default: '1000,10000' }, variants: { type: 'string', default: 'bare,all' }, label: { type: 'string', default: 'current' } } })

type Variant = 'bare' | 'all'

/** N domains on one server; `all` turns every per-domain feature on. */
function nodeConfig (domains: number, variant: Variant): ConfigVersion {
  const config = largeConfig(1, domains)
  config.challengeKey = new Uint8Array(32).fill(9)
  config.accountIpBlacklist = variant === 'all' ? ['192.0.2.1', '198.51.100.0/24'] : []
  config.domains.forEach((d, i) => {
    d.serverIds = [SERVER]
    d.waf = variant === 'all'
      ? { ipBlacklist: [`10.200.${(i >> 8) & 255}.${i & 255}`, '203.0.113.0/28'], rateLimitRequests: 100, rateLimitWindowS: 10, owasp: true, paranoia: 1 + (i % 4) }
      : { ipBlacklist: [], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 }
    d.bot = variant === 'all' ? { blockBadBots: true, jsChallenge: true, challengeTtlS: 3600 } : { blockBadBots: false, jsChallenge: false, challengeTtlS: 3600 }
  })
  return config
}

async function measure (domains: number, variant: Variant): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), 'lcs-'))
  try {
    const config = nodeConfig(domains, variant)
    const input = { config, serverId: SERVER, httpBind: '127.0.0.1:1', httpsBind: '127.0.0.1:2', template, paths: { runDir: dir, templatesDir: TEMPLATES_DIR } }
    const times: number[] = []
    let rendered = renderHaproxyConfig(input)
    for (let i = 0; i < 5; i++) {
      const started = performance.now()
      rendered = renderHaproxyConfig(input)
      times.push(performance.now() - started)
    }
    for (const [path, content] of Object.entries(rendered.files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true })
      await writeFile(join(dir, path), content)
    }
    await new SelfSignedCerts({ runDir: dir }).ensure(rendered.certificates)
    await writeFile(join(dir, 'haproxy.cfg'), rendered.haproxyCfg)
    // The machine may be shared: CPU time (user + sys) is the figure to compare, wall time beside it.
    const { stderr } = await run('/usr/bin/time', ['-f', 'lumos-time %e %U %S', 'haproxy', '-c', '-q', '-f', join(dir, 'haproxy.cfg')], { maxBuffer: 64 << 20, timeout: 1_800_000 })
    const [wall, user, sys] = (/lumos-time (\S+) (\S+) (\S+)/.exec(stderr)?.slice(1) ?? []).map(Number)
    return {
      domains,
      variant,
      cfgLines: rendered.haproxyCfg.split('\n').length,
      files: Object.keys(rendered.files).length,
      renderMsMedian: Math.round(percentile(times, 50) * 10) / 10,
      haproxyCheckCpuMs: Math.round(((user ?? NaN) + (sys ?? NaN)) * 1000),
      haproxyCheckWallMs: Math.round((wall ?? NaN) * 1000)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const rows = []
for (const domains of values.domains.split(',').map(Number)) {
  for (const variant of values.variants.split(',') as Variant[]) {
    const row = await measure(domains, variant)
    console.log(JSON.stringify(row))
    rows.push(row)
  }
}
const file = new URL('../results/haproxy-check.json', import.meta.url)
const previous = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, unknown>
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
await writeFile(file, JSON.stringify({ ...previous, [values.label]: { measuredAt: new Date().toISOString(), haproxy: '2.6', rows } }, null, 2) + '\n')
