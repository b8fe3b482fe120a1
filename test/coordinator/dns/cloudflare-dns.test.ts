// Contract tests of the Cloudflare DnsProvider adapter, through the official SDK, against
// the loopback fake of the Cloudflare v4 API. What the adapter sent is read back from the
// fake's recorded calls; waits between retries go through an injected sleep that records them.
import { Writable } from 'node:stream'
import { inspect } from 'node:util'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { CloudflareDns, type CloudflareDnsInit } from '../../../coordinator/dns/cloudflare-dns.ts'
import { FakeCloudflare } from '../../../scripts/fleet/fake-cloudflare.ts'

const TOKEN = 'cf-test-token-5b1d0c9e77a4'
const ZONE = 'example.com'
const NAME = 'shop.example.com'

async function setup (t: Test, init: Partial<CloudflareDnsInit> = {}) {
  const fake = new FakeCloudflare({ token: TOKEN })
  await fake.start()
  t.teardown(() => fake.stop())
  const zone = fake.addZone(ZONE)
  fake.addZone('other.org')
  let logText = ''
  const logger = pino({ level: 'debug' }, new Writable({ write (chunk, _enc, done) { logText += String(chunk); done() } }))
  const sleeps: number[] = []
  const dns = new CloudflareDns({
    apiToken: TOKEN,
    baseURL: fake.url,
    logger,
    timeoutMs: 2_000,
    retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 5_000 },
    sleep: async (ms) => { sleeps.push(ms) },
    random: () => 0.5,
    ...init
  })
  const contents = () => fake.records(ZONE).filter(r => r.type === 'A' && r.name === NAME).map(r => r.content).sort()
  const recordCalls = () => fake.calls.filter(c => c.path.includes('/dns_records'))
  return { fake, zone, dns, sleeps, contents, recordCalls, log: () => logText }
}

t.test('finds the zone by name and lists A records with name.exact and type=A', async t => {
  const { fake, zone, dns } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  fake.addRecord(ZONE, { name: 'www.example.com', content: '203.0.113.99' })
  t.same(await dns.getARecords(ZONE, NAME), ['203.0.113.10'])
  t.same(fake.calls.map(c => [c.method, c.path]), [['GET', '/client/v4/zones'], ['GET', `/client/v4/zones/${zone.id}/dns_records`]])
  t.match(fake.calls[0]?.query, { name: ZONE })
  t.match(fake.calls[1]?.query, { 'name.exact': NAME, type: 'A' })
})

t.test('the zone id is looked up once and cached', async t => {
  const { fake, dns } = await setup(t)
  await dns.getARecords(ZONE, NAME)
  await dns.setARecord(ZONE, NAME, '203.0.113.10')
  await dns.getARecords(ZONE, 'SHOP.Example.com.')
  t.equal(fake.calls.filter(c => c.path === '/client/v4/zones').length, 1)
})

t.test('setARecord updates the existing A record in place with PATCH', async t => {
  const { fake, zone, dns, contents } = await setup(t)
  const record = fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10', ttl: 120, proxied: true })
  const change = await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.same(change, { zone: ZONE, name: NAME, before: ['203.0.113.10'], after: ['203.0.113.20'], changed: true })
  const writes = fake.writeCalls()
  t.equal(writes.length, 1)
  t.match(writes[0], { method: 'PATCH', path: `/client/v4/zones/${zone.id}/dns_records/${record.id}`, body: { type: 'A', name: NAME, content: '203.0.113.20', ttl: 120 } })
  t.match(fake.calls.find(c => c.method === 'GET' && c.path.endsWith('/dns_records'))?.query, { 'name.exact': NAME })
  t.same(contents(), ['203.0.113.20'])
  t.match(fake.records(ZONE)[0], { id: record.id, ttl: 120, proxied: true }, 'same record, TTL and proxy setting kept')
})

t.test('setARecord writes nothing when the record already points at the address', async t => {
  const { fake, dns } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.20' })
  const change = await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.same(change, { zone: ZONE, name: NAME, before: ['203.0.113.20'], after: ['203.0.113.20'], changed: false })
  t.same(fake.writeCalls(), [])
})

t.test('setARecord creates the A record when the name has none', async t => {
  const { fake, dns, contents } = await setup(t)
  const change = await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.same(change, { zone: ZONE, name: NAME, before: [], after: ['203.0.113.20'], changed: true })
  t.same(fake.writeCalls().map(c => [c.method, c.body]), [['POST', { type: 'A', name: NAME, content: '203.0.113.20', ttl: 60, proxied: false }]])
  t.same(contents(), ['203.0.113.20'])
})

t.test('setARecord leaves a single record when the name had several (round-robin to failover)', async t => {
  const { fake, dns, contents } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.20' })
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.30' })
  const change = await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.same(change.after, ['203.0.113.20'])
  t.same(fake.writeCalls().map(c => c.method), ['DELETE', 'DELETE'], 'the record already right is kept, not rewritten')
  t.same(contents(), ['203.0.113.20'])
})

t.test('round-robin: addARecord adds beside the others, once', async t => {
  const { fake, dns, contents } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  t.same(await dns.addARecord(ZONE, NAME, '203.0.113.20'), { zone: ZONE, name: NAME, before: ['203.0.113.10'], after: ['203.0.113.10', '203.0.113.20'], changed: true })
  t.same((await dns.addARecord(ZONE, NAME, '203.0.113.20')).changed, false)
  t.same(fake.writeCalls().map(c => c.method), ['POST'])
  t.same(contents(), ['203.0.113.10', '203.0.113.20'])
})

t.test('round-robin: removeARecord deletes only that address, once', async t => {
  const { fake, zone, dns, contents } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  const gone = fake.addRecord(ZONE, { name: NAME, content: '203.0.113.20' })
  fake.addRecord(ZONE, { name: 'www.example.com', content: '203.0.113.20' })
  t.same(await dns.removeARecord(ZONE, NAME, '203.0.113.20'), { zone: ZONE, name: NAME, before: ['203.0.113.10', '203.0.113.20'], after: ['203.0.113.10'], changed: true })
  t.same((await dns.removeARecord(ZONE, NAME, '203.0.113.20')).changed, false)
  t.same(fake.writeCalls().map(c => [c.method, c.path]), [['DELETE', `/client/v4/zones/${zone.id}/dns_records/${gone.id}`]])
  t.same(contents(), ['203.0.113.10'])
  t.equal(fake.records(ZONE).filter(r => r.name === 'www.example.com').length, 1, 'other names untouched')
})

t.test('reads every page of a long record list', async t => {
  const { fake, recordCalls, dns } = await setup(t)
  for (let i = 1; i <= 101; i++) fake.addRecord(ZONE, { name: NAME, content: `198.51.100.${i}` })
  t.equal((await dns.getARecords(ZONE, NAME)).length, 101)
  t.same(recordCalls().map(c => c.query.page), ['1', '2'])
})

t.test('retries through two 429s, then succeeds', async t => {
  const { fake, dns, sleeps, contents } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  fake.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 0 }, 2)
  const change = await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.same(fake.calls.map(c => [c.method, c.status]), [['GET', 429], ['GET', 429], ['GET', 200], ['GET', 200], ['PATCH', 200]])
  t.same(sleeps, [75, 150], 'exponential backoff with jitter between attempts')
  t.equal(change.changed, true)
  t.same(contents(), ['203.0.113.20'])
})

t.test('waits at least as long as Retry-After asks, within the cap', async t => {
  const { fake, dns, sleeps } = await setup(t)
  fake.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 2 })
  fake.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 60 })
  await dns.getARecords(ZONE, NAME)
  t.same(sleeps, [2_000, 5_000])
})

t.test('gives up with DNS_PROVIDER_FAILED after the bound on persistent 500s and leaves records untouched', async t => {
  const { fake, dns, contents } = await setup(t)
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  fake.injectFault({ kind: 'status', status: 500 }, 100, { method: 'PATCH' })
  await t.rejects(dns.setARecord(ZONE, NAME, '203.0.113.20'), { name: 'LumosError', code: 'DNS_PROVIDER_FAILED', status: 502, details: { attempts: 3, status: 500 } })
  t.same(fake.writeCalls().map(c => [c.method, c.status]), [['PATCH', 500], ['PATCH', 500], ['PATCH', 500]], 'three attempts, each failed')
  t.same(contents(), ['203.0.113.10'])
})

t.test('every call failing with 502 costs exactly the bounded attempts', async t => {
  const { fake, dns } = await setup(t)
  fake.injectFault({ kind: 'status', status: 502 }, 100)
  await t.rejects(dns.getARecords(ZONE, NAME), { code: 'DNS_PROVIDER_FAILED' })
  t.equal(fake.calls.length, 3)
})

t.test('a request that hangs past the timeout is abandoned and retried', async t => {
  const { fake, dns, contents } = await setup(t, { timeoutMs: 200 })
  fake.addRecord(ZONE, { name: NAME, content: '203.0.113.10' })
  await dns.getARecords(ZONE, NAME)
  fake.injectFault({ kind: 'hang' }, 1, { method: 'PATCH' })
  const change = await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.equal(fake.calls.filter(c => c.fault === 'hang').length, 1, 'the hang happened')
  t.equal(change.changed, true)
  t.same(contents(), ['203.0.113.20'])
})

t.test('an unknown zone is DNS_ZONE_NOT_FOUND and no record is touched', async t => {
  const { fake, dns } = await setup(t)
  await t.rejects(dns.setARecord('nowhere.net', 'shop.nowhere.net', '203.0.113.20'), { code: 'DNS_ZONE_NOT_FOUND', details: { zone: 'nowhere.net' } })
  t.same(fake.calls.map(c => c.path), ['/client/v4/zones'], 'not retried, no record call')
})

t.test('a wrong token is DNS_AUTH_FAILED at once, and the token is in no error or log', async t => {
  const { fake, dns, log } = await setup(t, { apiToken: 'wrong-token-7f3e9a' })
  const err = await dns.getARecords(ZONE, NAME).catch((e: unknown) => e)
  t.match(err, { name: 'LumosError', code: 'DNS_AUTH_FAILED', details: { status: 403 } })
  t.equal(fake.calls.length, 1, 'not retried')
  t.notMatch(JSON.stringify(err) + String((err as Error).message) + log(), 'wrong-token-7f3e9a')
})

t.test('the API token appears in no log line through retries and changes', async t => {
  const { fake, dns, log } = await setup(t)
  fake.injectFault({ kind: 'status', status: 503 })
  await dns.setARecord(ZONE, NAME, '203.0.113.20')
  t.match(log(), 'retrying', 'the retry was logged')
  t.match(log(), 'DNS A records changed')
  t.notMatch(log(), TOKEN)
})

t.test('the adapter shows no token when inspected or serialized', async t => {
  const { dns } = await setup(t)
  t.notMatch(inspect(dns, { depth: 6 }) + JSON.stringify(dns), TOKEN)
})

t.test('a name outside the zone or an address that is not IPv4 is DNS_INVALID_RECORD before any call', async t => {
  const { fake, dns } = await setup(t)
  await t.rejects(dns.setARecord(ZONE, 'shop.example.org', '203.0.113.20'), { code: 'DNS_INVALID_RECORD', status: 400 })
  await t.rejects(dns.addARecord(ZONE, NAME, '2001:db8::1'), { code: 'DNS_INVALID_RECORD' })
  t.same(fake.calls, [])
})

t.test('a caller abort stops the operation without retries', async t => {
  const { fake, dns } = await setup(t)
  await t.rejects(dns.setARecord(ZONE, NAME, '203.0.113.20', { signal: AbortSignal.abort() }), { code: 'DNS_PROVIDER_FAILED' })
  t.same(fake.writeCalls(), [])
})
