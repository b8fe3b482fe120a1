// The loopback fake of the Cloudflare v4 API, spoken to with plain fetch: envelope and
// pagination shape, filters, writes, token check, call recording and injected faults.
import t, { type Test } from 'tap'
import { FakeCloudflare } from '../../scripts/fleet/fake-cloudflare.ts'

const TOKEN = 'fake-cf-token-0123456789'

async function setup (t: Test) {
  const fake = new FakeCloudflare({ token: TOKEN })
  await fake.start()
  t.teardown(() => fake.stop())
  const zone = fake.addZone('example.com')
  const call = async (method: string, path: string, body?: object, token = TOKEN, signal?: AbortSignal) => {
    const res = await fetch(`${fake.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal
    })
    return { status: res.status, headers: res.headers, body: await res.json() as Record<string, any> }
  }
  return { fake, zone, call }
}

t.test('the base URL ends in /client/v4 on a loopback port', async t => {
  const { fake } = await setup(t)
  t.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/)
})

t.test('zones are found by name in a Cloudflare envelope', async t => {
  const { call, zone } = await setup(t)
  const { status, body } = await call('GET', '/zones?name=example.com')
  t.equal(status, 200)
  t.same(body, { success: true, errors: [], messages: [], result: [{ id: zone.id, name: 'example.com', status: 'active' }], result_info: { page: 1, per_page: 100, count: 1, total_count: 1, total_pages: 1 } })
  t.same((await call('GET', '/zones?name=other.com')).body.result, [])
})

t.test('record lists are paginated with page, per_page and result_info', async t => {
  const { fake, zone, call } = await setup(t)
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) fake.addRecord('example.com', { name: 'shop.example.com', content: ip })
  const first = await call('GET', `/zones/${zone.id}/dns_records?per_page=2`)
  t.same(first.body.result.map((r: { content: string }) => r.content), ['192.0.2.1', '192.0.2.2'])
  t.same(first.body.result_info, { page: 1, per_page: 2, count: 2, total_count: 3, total_pages: 2 })
  const second = await call('GET', `/zones/${zone.id}/dns_records?per_page=2&page=2`)
  t.same(second.body.result.map((r: { content: string }) => r.content), ['192.0.2.3'])
  t.same(second.body.result_info, { page: 2, per_page: 2, count: 1, total_count: 3, total_pages: 2 })
})

t.test('record lists filter on name, name.exact and type', async t => {
  const { fake, zone, call } = await setup(t)
  fake.addRecord('example.com', { name: 'shop.example.com', content: '192.0.2.1' })
  fake.addRecord('example.com', { name: 'www.example.com', content: '192.0.2.2' })
  fake.addRecord('example.com', { name: 'shop.example.com', type: 'TXT', content: 'hello' })
  const contents = async (query: string) => (await call('GET', `/zones/${zone.id}/dns_records?${query}`)).body.result.map((r: { content: string }) => r.content)
  t.same(await contents('name.exact=shop.example.com&type=A'), ['192.0.2.1'])
  t.same(await contents('name=SHOP.example.com'), ['192.0.2.1', 'hello'])
  t.same(await contents('type=A'), ['192.0.2.1', '192.0.2.2'])
})

t.test('POST creates, PATCH updates in place, DELETE removes', async t => {
  const { fake, zone, call } = await setup(t)
  const created = await call('POST', `/zones/${zone.id}/dns_records`, { name: 'shop.example.com', type: 'A', content: '192.0.2.1', ttl: 60 })
  t.equal(created.status, 200)
  const id = created.body.result.id as string
  t.match(created.body.result, { id, zone_id: zone.id, name: 'shop.example.com', type: 'A', content: '192.0.2.1', ttl: 60, proxied: false })
  const patched = await call('PATCH', `/zones/${zone.id}/dns_records/${id}`, { content: '192.0.2.9' })
  t.match(patched.body.result, { id, content: '192.0.2.9', ttl: 60 })
  t.same(fake.records('example.com').map(r => [r.id, r.content]), [[id, '192.0.2.9']])
  const deleted = await call('DELETE', `/zones/${zone.id}/dns_records/${id}`)
  t.same(deleted.body.result, { id })
  t.same(fake.records('example.com'), [])
})

t.test('bad writes get Cloudflare-style 4xx errors', async t => {
  const { fake, zone, call } = await setup(t)
  const existing = fake.addRecord('example.com', { name: 'shop.example.com', content: '192.0.2.1' })
  const twin = await call('POST', `/zones/${zone.id}/dns_records`, { name: 'shop.example.com', type: 'A', content: '192.0.2.1' })
  t.same([twin.status, twin.body.success, twin.body.errors[0].code], [400, false, 81058])
  t.equal((await call('PATCH', `/zones/${zone.id}/dns_records/${existing.id}`, { content: 'not-an-ip' })).body.errors[0].code, 9005)
  t.equal((await call('DELETE', `/zones/${zone.id}/dns_records/nope`)).status, 404)
  t.equal((await call('GET', '/zones/nope/dns_records')).body.errors[0].code, 7003)
  t.same(fake.records('example.com').map(r => r.content), ['192.0.2.1'])
})

t.test('a wrong token gets 403 with error code 10000 and changes nothing', async t => {
  const { fake, zone, call } = await setup(t)
  const res = await call('POST', `/zones/${zone.id}/dns_records`, { name: 'shop.example.com', type: 'A', content: '192.0.2.1' }, 'wrong')
  t.equal(res.status, 403)
  t.same(res.body, { success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null })
  t.same(fake.records('example.com'), [])
})

t.test('every call is recorded with method, path, query, body, time and status', async t => {
  const { fake, zone, call } = await setup(t)
  const before = Date.now()
  await call('GET', `/zones/${zone.id}/dns_records?name.exact=shop.example.com&type=A`)
  await call('POST', `/zones/${zone.id}/dns_records`, { name: 'shop.example.com', type: 'A', content: '192.0.2.1' })
  t.equal(fake.calls.length, 2)
  t.match(fake.calls[0], { method: 'GET', path: `/client/v4/zones/${zone.id}/dns_records`, query: { 'name.exact': 'shop.example.com', type: 'A' }, body: undefined, status: 200 })
  t.match(fake.calls[1], { method: 'POST', body: { name: 'shop.example.com', type: 'A', content: '192.0.2.1' }, status: 200 })
  t.ok((fake.calls[0]?.at ?? 0) >= before)
  t.same(fake.writeCalls().map(c => c.method), ['POST'])
})

t.test('injected 429s answer the next calls with Retry-After, then the API answers again', async t => {
  const { fake, call } = await setup(t)
  fake.injectFault({ kind: 'status', status: 429, retryAfterSeconds: 3 }, 2)
  for (let i = 0; i < 2; i++) {
    const res = await call('GET', '/zones?name=example.com')
    t.same([res.status, res.headers.get('retry-after'), res.body.success], [429, '3', false])
  }
  t.equal((await call('GET', '/zones?name=example.com')).status, 200)
  t.same(fake.calls.map(c => c.fault), ['status', 'status', undefined])
})

t.test('a fault can target one method only', async t => {
  const { fake, zone, call } = await setup(t)
  const record = fake.addRecord('example.com', { name: 'shop.example.com', content: '192.0.2.1' })
  fake.injectFault({ kind: 'status', status: 502 }, 1, { method: 'PATCH' })
  t.equal((await call('GET', `/zones/${zone.id}/dns_records`)).status, 200)
  t.equal((await call('PATCH', `/zones/${zone.id}/dns_records/${record.id}`, { content: '192.0.2.2' })).status, 502)
  t.same(fake.records('example.com').map(r => r.content), ['192.0.2.1'])
})

t.test('latency delays the answer and a hang never answers', async t => {
  const { fake, call } = await setup(t)
  fake.injectFault({ kind: 'latency', ms: 150 })
  const start = Date.now()
  t.equal((await call('GET', '/zones')).status, 200)
  t.ok(Date.now() - start >= 140, 'the answer waited')
  fake.injectFault({ kind: 'hang' })
  await t.rejects(call('GET', '/zones', undefined, TOKEN, AbortSignal.timeout(200)), { name: 'TimeoutError' })
  t.equal(fake.calls.at(-1)?.fault, 'hang')
})
