// Golden-file tests of the pure renderer with the real template, plus a check that the
// golden config is accepted by the real `haproxy -c`. After an intended change to the
// renderer or template, regenerate with LUMOS_UPDATE_GOLDEN=1 and review the diff.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import type { ConfigVersion } from '../../../proto/codec.ts'
import { renderHaproxyConfig, type RenderInput } from '../../../node/render/render.ts'

const template = readFileSync(new URL('../../../haproxy-templates/haproxy.cfg.tpl', import.meta.url), 'utf8')
const goldenCfg = new URL('../../fixtures/golden/basic.haproxy.cfg', import.meta.url)
const goldenMap = new URL('../../fixtures/golden/basic.hosts.map', import.meta.url)
const RUN_DIR = '/run/lumos-golden'

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
    { id: 'dom_shop', hostname: 'shop.example.com', aliases: ['www.shop.example.com', 'shop.example.net'], serverIds: ['srv_a', 'srv_b'], origins: [{ address: '10.0.0.5', port: 8080, weight: 100, tls: false }] },
    { id: 'dom_blog', hostname: 'blog.example.org', aliases: [], serverIds: ['srv_b'], origins: [{ address: '192.168.1.20', port: 80, weight: 100, tls: false }] },
    {
      id: 'dom_api',
      hostname: 'api.example.com',
      aliases: [],
      serverIds: ['srv_b', 'srv_a'],
      origins: [{ address: '198.51.100.7', port: 80, weight: 30, tls: false }, { address: '2001:db8::10', port: 443, weight: 70, tls: true }]
    }
  ]
}

function input (overrides: Partial<RenderInput> = {}): RenderInput {
  return { config, serverId: 'srv_a', httpBind: '127.0.0.1:8081', paths: { runDir: RUN_DIR, mapFile: `${RUN_DIR}/maps/hosts.map` }, template, ...overrides }
}

if (process.env.LUMOS_UPDATE_GOLDEN === '1') {
  const rendered = renderHaproxyConfig(input())
  writeFileSync(goldenCfg, rendered.haproxyCfg)
  writeFileSync(goldenMap, rendered.hostsMap)
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

t.test('the golden config passes haproxy -c with its map file in place', async t => {
  // HAProxy refuses unix socket paths over 97 bytes, longer than tap's default testdir path.
  t.testdirName = join(tmpdir(), `lumos-render-${process.pid}`)
  const dir = t.testdir({ maps: { 'hosts.map': readFileSync(goldenMap, 'utf8') } })
  const cfgFile = join(dir, 'haproxy.cfg')
  writeFileSync(cfgFile, readFileSync(goldenCfg, 'utf8').replaceAll(RUN_DIR, dir))
  const { stdout, stderr } = await promisify(execFile)('/usr/sbin/haproxy', ['-c', '-f', cfgFile])
  t.match(`${stdout}${stderr}`, 'Configuration file is valid')
})
