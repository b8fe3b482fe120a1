// Golden-file tests of the pure renderer with the real template, plus a check that the
// golden configs (basic, and one domain with every setting) are accepted by the real
// `haproxy -c` with their generated files and certificates in place. After an intended
// change to the renderer or template, regenerate with LUMOS_UPDATE_GOLDEN=1 and review the diff.
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'
import type { ConfigVersion } from '../../../proto/codec.ts'
import { renderHaproxyConfig, type RenderedConfig, type RenderInput } from '../../../node/render/render.ts'
import { botFrontendRules, botRules } from '../../../node/render/bot-protection.ts'
import { wafFrontendRules, wafRules } from '../../../node/render/waf.ts'
import { SelfSignedCerts } from '../../../node/tls/self-signed-certs.ts'
import { fullConfig } from '../../fixtures/full-config.ts'

const template = readFileSync(new URL('../../../haproxy-templates/haproxy.cfg.tpl', import.meta.url), 'utf8')
const goldenCfg = new URL('../../fixtures/golden/basic.haproxy.cfg', import.meta.url)
const goldenMap = new URL('../../fixtures/golden/basic.hosts.map', import.meta.url)
const fullGoldenCfg = new URL('../../fixtures/golden/full.haproxy.cfg', import.meta.url)
const fullGoldenFiles = new URL('../../fixtures/golden/full.files.json', import.meta.url)
const RUN_DIR = '/run/lumos-golden'
const TEMPLATES_DIR = '/usr/share/lumos/haproxy-templates'
const REAL_TEMPLATES_DIR = new URL('../../../haproxy-templates', import.meta.url).pathname

const config: ConfigVersion = {
  accountId: 'acc_0123456789ab',
  version: 3,
  previousHash: new Uint8Array(32),
  issuedAtMs: 1_700_000_000_000,
  servers: [
    { id: 'srv_a', name: 'EU Frankfurt', peerId: '', multiaddrs: [], publicIp: '203.0.113.1', status: 'online' },
    { id: 'srv_b', name: 'US Ashburn', peerId: '', multiaddrs: [], publicIp: '203.0.113.2', status: 'online' }
  ],
  domains: [
    withDomainDefaults({ id: 'dom_shop', hostname: 'shop.example.com', aliases: ['www.shop.example.com', 'shop.example.net'], serverIds: ['srv_a', 'srv_b'], origins: [{ address: '10.0.0.5', port: 8080, weight: 100, tls: false }] }),
    withDomainDefaults({ id: 'dom_blog', hostname: 'blog.example.org', aliases: [], serverIds: ['srv_b'], origins: [{ address: '192.168.1.20', port: 80, weight: 100, tls: false }] }),
    withDomainDefaults({
      id: 'dom_api',
      hostname: 'api.example.com',
      aliases: [],
      serverIds: ['srv_b', 'srv_a'],
      origins: [{ address: '198.51.100.7', port: 80, weight: 30, tls: false }, { address: '2001:db8::10', port: 443, weight: 70, tls: true }]
    })
  ],
  accountIpBlacklist: [],
  challengeKey: new Uint8Array(32)
}

function input (overrides: Partial<RenderInput> = {}): RenderInput {
  return { config, serverId: 'srv_a', httpBind: '127.0.0.1:8081', httpsBind: '127.0.0.1:8444', paths: { runDir: RUN_DIR, templatesDir: TEMPLATES_DIR }, template, ...overrides }
}

const fullInput = (): RenderInput => input({ config: fullConfig })

if (process.env.LUMOS_UPDATE_GOLDEN === '1') {
  const rendered = renderHaproxyConfig(input())
  writeFileSync(goldenCfg, rendered.haproxyCfg)
  writeFileSync(goldenMap, rendered.hostsMap)
  const full = renderHaproxyConfig(fullInput())
  writeFileSync(fullGoldenCfg, full.haproxyCfg)
  writeFileSync(fullGoldenFiles, `${JSON.stringify({ files: full.files, certificates: full.certificates }, null, 2)}\n`)
}

/** Writes a rendered config, its files and its (self-signed) certificates into `dir`, as the applier does. */
async function materialize (rendered: RenderedConfig, dir: string): Promise<string> {
  const relocate = (text: string): string => text.replaceAll(RUN_DIR, dir).replaceAll(TEMPLATES_DIR, REAL_TEMPLATES_DIR)
  for (const [path, content] of Object.entries(rendered.files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), relocate(content))
  }
  await new SelfSignedCerts({ runDir: dir }).ensure(rendered.certificates)
  const cfgFile = join(dir, 'haproxy.cfg')
  writeFileSync(cfgFile, relocate(rendered.haproxyCfg))
  return cfgFile
}

t.test('the rendered config and host map match the golden files', async t => {
  const rendered = renderHaproxyConfig(input())
  t.equal(rendered.haproxyCfg, readFileSync(goldenCfg, 'utf8'))
  t.equal(rendered.hostsMap, readFileSync(goldenMap, 'utf8'))
})

t.test('rendering the same input twice gives identical bytes and hash', async t => {
  const first = renderHaproxyConfig(input())
  const second = renderHaproxyConfig(input())
  t.equal(second.haproxyCfg, first.haproxyCfg)
  t.equal(second.hostsMap, first.hostsMap)
  t.equal(second.hash, first.hash)
})

t.test('the order of domains in the config version does not change the output', async t => {
  const reversed = renderHaproxyConfig(input({ config: { ...config, domains: [...config.domains].reverse() } }))
  t.equal(reversed.hash, renderHaproxyConfig(input()).hash)
})

t.test('a change in any domain changes the hash', async t => {
  const [first, ...rest] = config.domains
  const heavier = { ...first!, origins: first!.origins.map(o => ({ ...o, weight: o.weight + 1 })) }
  t.not(renderHaproxyConfig(input({ config: { ...config, domains: [heavier, ...rest] } })).hash, renderHaproxyConfig(input()).hash)
})

t.test('only domains assigned to this server are rendered', async t => {
  const rendered = renderHaproxyConfig(input())
  t.equal(rendered.domainCount, 2)
  t.notMatch(rendered.haproxyCfg, 'blog.example.org')
  t.notMatch(rendered.haproxyCfg, 'site_dom_blog')
  t.notMatch(rendered.hostsMap, 'blog.example.org')
  t.match(rendered.haproxyCfg, 'backend site_dom_api')
  t.match(rendered.haproxyCfg, 'backend site_dom_shop')
})

t.test('a domain with every setting renders to the golden config and files', async t => {
  const rendered = renderHaproxyConfig(fullInput())
  t.equal(rendered.haproxyCfg, readFileSync(fullGoldenCfg, 'utf8'))
  t.same({ files: rendered.files, certificates: rendered.certificates }, JSON.parse(readFileSync(fullGoldenFiles, 'utf8')))
})

t.test('WAF and bot checks run once in the frontend before use_backend; their verdicts come after the rate limit in the backend; haproxy -c passes', async t => {
  const [full, ...rest] = fullConfig.domains
  const guarded = { ...full!, waf: { ...full!.waf, owasp: true, paranoia: 2 }, bot: { blockBadBots: true, jsChallenge: true, challengeTtlS: 1800 } }
  const config = { ...fullConfig, domains: [guarded, ...rest] }
  const templatesDir = REAL_TEMPLATES_DIR
  const rendered = renderHaproxyConfig(input({ config, paths: { runDir: RUN_DIR, templatesDir } }))
  const ctx = { config, runDir: RUN_DIR, templatesDir, node: { waf: true, badBots: true, challenge: true } }
  const cfg = rendered.haproxyCfg
  const inOrder = (text: string, lines: string[]): void => {
    let at = 0
    for (const line of lines) {
      const found = text.indexOf(`    ${line}`, at)
      t.ok(found >= at, `in order: ${line.slice(0, 80)}`)
      at = found
    }
  }
  const frontend = cfg.slice(cfg.indexOf('frontend shield_http'), cfg.indexOf('\nbackend '))
  const botLines = botFrontendRules(config.domains, ctx).frontendLines
  inOrder(frontend, ['http-request set-var(txn.site) ', ...wafFrontendRules(config.domains, ctx).frontendLines, ...botLines, 'use_backend '])
  const lastBotRequestLine = botLines.filter(line => line.startsWith('http-request ')).at(-1) ?? '?'
  t.notMatch(frontend.slice(frontend.indexOf(lastBotRequestLine)).split('\n').slice(1).join('\n'), /^ {4}(http-request|tcp-request content) /m, 'no request rule follows the challenge lines (they end the frontend\'s rules with allow)')
  t.equal(rendered.files['maps/waf.map'], 'shop.example.com 2\nshop.example.net 2\nwww.shop.example.com 2\n', 'the WAF map holds the guarded domain\'s hosts only')
  t.equal(rendered.files['maps/bot-challenge.map'], 'shop.example.com 1800\nshop.example.net 1800\nwww.shop.example.com 1800\n')
  for (const name of ['site_dom_full', 'site_dom_plain']) {
    const backend = cfg.slice(cfg.indexOf(`backend ${name}`)).split('\n\n')[0]!
    const own = name === 'site_dom_full' ? ['http-request track-sc0 src'] : []
    inOrder(backend, ['http-request deny deny_status 403 if { var(txn.bl_hit) -m bool }', ...own, ...wafRules(guarded, ctx).backendLines, ...botRules(guarded, ctx).backendLines, 'server origin1 '])
  }
  t.ok(cfg.endsWith(`\n\n${botFrontendRules(config.domains, ctx).sections?.[0] ?? '?'}\n`), 'the table of verified cookies is the last section')
  t.notMatch(cfg.slice(cfg.indexOf('\nbackend ')), 'lua.lumos_waf', 'no WAF inspection in any backend')
  t.notMatch(cfg.slice(cfg.indexOf('\nbackend ')), /-m reg|-f |map\(/, 'no regex, pattern file or map in any backend')
  t.testdirName = join(tmpdir(), `lumos-render-${process.pid}-guarded`)
  const cfgFile = await materialize(rendered, t.testdir())
  const { stdout, stderr } = await promisify(execFile)('/usr/sbin/haproxy', ['-c', '-f', cfgFile])
  t.match(`${stdout}${stderr}`, 'Configuration file is valid')
  t.notMatch(`${stdout}${stderr}`, /\[(WARNING|ALERT)\]/, 'no warnings')
})

t.test('the blacklist map names, for each entry, every list covering it, and the sets map which domains those are', async t => {
  const [full, plain] = fullConfig.domains
  const config = { ...fullConfig, accountIpBlacklist: ['198.51.0.0/16', '192.0.2.1'], domains: [full!, { ...plain!, waf: { ...plain!.waf, ipBlacklist: ['198.51.100.0/24', '2001:db8:1::/48'] } }] }
  const rendered = renderHaproxyConfig(input({ config }))
  const map = Object.fromEntries(rendered.files['maps/blacklist.map']!.trim().split('\n').map(line => line.split(' ') as [string, string]))
  const sets = new Set(rendered.files['maps/blacklist-sets.map']!.trim().split('\n'))
  const members = (entry: string): string[] => ['*', 'site_dom_full', 'site_dom_plain'].filter(list => sets.has(`${map[entry]}|${list} 1`))
  t.same(members('198.51.0.0/16'), ['*'], 'an account entry applies to every domain')
  t.same(members('198.51.100.0/24'), ['*', 'site_dom_full', 'site_dom_plain'], 'a /24 inside the account /16, listed by both domains')
  t.same(members('2001:db8::/32'), ['site_dom_full'])
  t.same(members('2001:db8:1::/48'), ['site_dom_full', 'site_dom_plain'], 'a /48 inside dom_full\'s /32 also blocks dom_full')
  t.same(members('203.0.113.7'), ['site_dom_full'])
  t.same(members('192.0.2.1'), ['*'])
})

for (const [name, render] of [['basic', () => renderHaproxyConfig(input())], ['full', () => renderHaproxyConfig(fullInput())]] as const) {
  t.test(`the ${name} golden config passes haproxy -c with its files and certificates in place`, async t => {
    // HAProxy refuses unix socket paths over 97 bytes, longer than tap's default testdir path.
    t.testdirName = join(tmpdir(), `lumos-render-${process.pid}-${name}`)
    const cfgFile = await materialize(render(), t.testdir())
    const { stdout, stderr } = await promisify(execFile)('/usr/sbin/haproxy', ['-c', '-f', cfgFile])
    t.match(`${stdout}${stderr}`, 'Configuration file is valid')
    t.notMatch(`${stdout}${stderr}`, /\[(WARNING|ALERT)\]/, 'no warnings')
  })
}
