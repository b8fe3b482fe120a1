// Planning runtime-API server updates from the live and the new haproxy.cfg: which origin
// changes HAProxy can take without a reload (address, port, weight) and the exact
// commands, and which need a reload (servers added or removed, TLS toggled, other lines).
import t from 'tap'
import { planServerUpdate } from '../../../node/apply/server-plan.ts'
import { runtimeErrors } from '../../../node/haproxy/runtime-api.ts'

const CHECK = 'check inter 2s fall 3 rise 2'
function cfg (servers: string[], connect = '5s'): string {
  return [
    'frontend shield_http',
    '    bind 127.0.0.1:80',
    '',
    'backend site_a',
    '    # a.example.com',
    `    timeout connect ${connect}`,
    ...servers.map(line => `    ${line}`),
    '',
    'backend site_b',
    '    # b.example.com',
    `    server origin1 10.0.0.9:80 weight 100 ${CHECK}`,
    ''
  ].join('\n')
}

t.test('identical configs need no command', async t => {
  const same = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`])
  t.same(planServerUpdate(same, same), [])
})

t.test('a new origin port or address is set with one addr command per server', async t => {
  const before = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`, `server origin2 10.0.0.2:80 weight 100 ${CHECK}`])
  const after = cfg([`server origin1 10.0.0.1:8080 weight 100 ${CHECK}`, `server origin2 10.0.0.3:80 weight 100 ${CHECK}`])
  t.same(planServerUpdate(before, after), [
    'set server site_a/origin1 addr 10.0.0.1 port 8080',
    'set server site_a/origin2 addr 10.0.0.3 port 80'
  ])
})

t.test('servers of several backends are each set in their own backend', async t => {
  const before = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`])
  const after = before.replace('10.0.0.1:80', '10.0.0.1:81').replace('10.0.0.9:80 weight 100', '10.0.0.9:80 weight 5')
  t.same(planServerUpdate(before, after), ['set server site_a/origin1 addr 10.0.0.1 port 81', 'set server site_b/origin1 weight 5'])
  t.same(planServerUpdate(before, before.replace('10.0.0.9:80', '10.0.0.10:80')), ['set server site_b/origin1 addr 10.0.0.10 port 80'], 'the last backend alone')
})

t.test('a new weight is set alone, or beside the address', async t => {
  const before = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`, `server origin2 10.0.0.2:80 weight 100 ${CHECK}`])
  const after = cfg([`server origin1 10.0.0.1:80 weight 7 ${CHECK}`, `server origin2 10.0.0.5:81 weight 256 ${CHECK}`])
  t.same(planServerUpdate(before, after), [
    'set server site_a/origin1 weight 7',
    'set server site_a/origin2 addr 10.0.0.5 port 81',
    'set server site_a/origin2 weight 256'
  ])
})

t.test('IPv6 origins are given without their brackets, and may replace IPv4 ones', async t => {
  const before = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`])
  const after = cfg([`server origin1 [2001:db8::7]:443 weight 100 ${CHECK}`])
  t.same(planServerUpdate(before, after), ['set server site_a/origin1 addr 2001:db8::7 port 443'])
})

t.test('a server added or removed needs a reload', async t => {
  const one = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`])
  const two = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`, `server origin2 10.0.0.2:80 weight 100 ${CHECK}`])
  t.equal(planServerUpdate(one, two), undefined)
  t.equal(planServerUpdate(two, one), undefined)
})

t.test('TLS to the origin toggled or any other option changed needs a reload', async t => {
  const plain = cfg([`server origin1 10.0.0.1:443 weight 100 ${CHECK}`])
  const tls = cfg([`server origin1 10.0.0.1:443 weight 100 ${CHECK} ssl verify none sni str(a.example.com) check-sni a.example.com`])
  t.equal(planServerUpdate(plain, tls), undefined)
  t.equal(planServerUpdate(plain, cfg([`server origin1 10.0.0.1:443 weight 100 check inter 5s fall 3 rise 2`])), undefined)
})

t.test('a renamed server needs a reload', async t => {
  t.equal(planServerUpdate(cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`]), cfg([`server origin9 10.0.0.1:80 weight 100 ${CHECK}`])), undefined)
})

t.test('a host name on either side needs a reload: set server addr takes IP addresses only', async t => {
  const ip = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`])
  const host = cfg([`server origin1 origin.example.net:80 weight 100 ${CHECK}`])
  t.equal(planServerUpdate(ip, host), undefined)
  t.equal(planServerUpdate(host, ip), undefined)
})

t.test('any other changed line needs a reload, even beside a server change', async t => {
  const before = cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`])
  t.equal(planServerUpdate(before, cfg([`server origin1 10.0.0.1:80 weight 100 ${CHECK}`], '6s')), undefined)
  t.equal(planServerUpdate(before, cfg([`server origin1 10.0.0.1:81 weight 100 ${CHECK}`], '6s')), undefined)
})

t.test('a server line outside a backend needs a reload', async t => {
  const before = 'listen x\n    server s 10.0.0.1:80 weight 1\n'
  t.equal(planServerUpdate(before, before.replace(':80', ':81')), undefined)
})

t.test('set server addr notices are success, anything else in the answer is an error', async t => {
  t.equal(runtimeErrors("IP changed from '127.0.0.1' to '::1', no need to change the port by 'stats socket command'\n\n"), '')
  t.equal(runtimeErrors("no need to change the addr, port changed from '80' to '81' by 'stats socket command'\n\n\n"), '')
  t.equal(runtimeErrors("no need to change the addr, port changed from '80' to '81' by 'stats socket command'\nNo such server.\n\n"), 'No such server.')
  t.equal(runtimeErrors('Absolute weight can only be between 0 and 256 inclusive.\n'), 'Absolute weight can only be between 0 and 256 inclusive.')
})
