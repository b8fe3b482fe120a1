// The failover routes on a coordinator without DNS failover configured: events list empty,
// drills refused with stable codes, bad drill bodies refused, nothing stored.
import t from 'tap'
import { withServer } from '../fixtures/coordinator-api.ts'

t.test('without a Cloudflare token the events list is empty and a domain drill is FAILOVER_UNAVAILABLE', async t => {
  const api = await withServer(t)
  const created = await api.call('POST', api.domainsUrl, api.apiKey, { ...api.domainBody, failover: { enabled: true, zone: 'example.com', record: 'shop.example.com' } })
  t.equal(created.status, 201)
  const events = await api.call('GET', `/v1/accounts/${api.accountId}/failover/events`, api.apiKey)
  t.same(events, { status: 200, body: { events: [] } })
  const before = await api.storedState(api.accountId)
  const drill = await api.call('POST', `${api.domainsUrl}/${created.body.domain.id as string}/drill`, api.apiKey, { seconds: 10 })
  t.equal(drill.status, 409)
  t.equal(drill.body.code, 'FAILOVER_UNAVAILABLE')
  t.same(await api.storedState(api.accountId), before, 'nothing stored')
})

t.test('drill bodies are validated and unknown resources are NOT_FOUND', async t => {
  const api = await withServer(t)
  const bad = await api.call('POST', `${api.domainsUrl}/dom_nope/drill`, api.apiKey, { seconds: 0 })
  t.equal(bad.body.code, 'VALIDATION_FAILED')
  const missing = await api.call('POST', `${api.domainsUrl}/dom_nope/drill`, api.apiKey, { seconds: 5 })
  t.equal(missing.body.code, 'NOT_FOUND')
  const tooLong = await api.call('POST', `/v1/accounts/${api.accountId}/servers/${api.serverId}/drill/partition`, api.apiKey, { seconds: 601 })
  t.equal(tooLong.body.code, 'VALIDATION_FAILED')
})

t.test('a partition drill on a server without a mesh peer is SERVER_NOT_ENROLLED', async t => {
  const api = await withServer(t)
  const res = await api.call('POST', `/v1/accounts/${api.accountId}/servers/${api.serverId}/drill/partition`, api.apiKey, { seconds: 5 })
  t.equal(res.status, 409)
  t.equal(res.body.code, 'SERVER_NOT_ENROLLED')
})

t.test('servers are listed with their stored status when no live view is available', async t => {
  const api = await withServer(t)
  const res = await api.call('GET', `/v1/accounts/${api.accountId}/servers`, api.apiKey)
  t.match(res.body.servers[0], { id: api.serverId, status: 'pending', lastSeen: null, appliedVersion: null, agentVersion: null })
  t.notOk('tokenHash' in res.body.servers[0])
})
