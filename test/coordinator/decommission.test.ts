// Decommission: a soft delete that keeps the server in signed versions for the grace
// period, warns about the domains it leaves, and then removes it from the config.
import { pino } from 'pino'
import t from 'tap'
import { DecommissionSweeper, graceEnded } from '../../coordinator/decommission-sweeper.ts'
import type { ServerRecord } from '../../coordinator/model.ts'
import { importPublicKey, openEnvelope } from '../../proto/envelope.ts'
import { NOW, setup } from '../fixtures/coordinator-api.ts'

const HOUR = 3600_000

t.test('graceEnded picks only decommissioned servers whose grace has passed and that are not cut yet', async t => {
  const base = { accountId: 'a', name: 'n', publicIp: '', tokenHash: '', tokenPrefix: '', peerId: 'p', multiaddrs: [], createdAt: '', enrolledAt: null }
  const servers: ServerRecord[] = [
    { ...base, id: 'online', status: 'online' },
    { ...base, id: 'fresh', status: 'decommissioned', decommissionedAt: new Date(NOW - HOUR + 1000).toISOString() },
    { ...base, id: 'due', status: 'decommissioned', decommissionedAt: new Date(NOW - HOUR).toISOString() },
    { ...base, id: 'cut', status: 'decommissioned', decommissionedAt: new Date(NOW - 2 * HOUR).toISOString(), cutAt: new Date(NOW - HOUR).toISOString() }
  ]
  t.same(graceEnded(servers, HOUR, NOW).map(s => s.id), ['due'])
})

t.test('DELETE marks the server decommissioned, warns, and keeps it in the config until the grace ends', async t => {
  let now = NOW
  const api = await setup(t, () => now)
  const { accountId, apiKey } = await api.createAccount('pro')
  const a = await api.createServer(accountId, apiKey)
  const b = await api.createServer(accountId, apiKey)
  await api.call('POST', `/v1/accounts/${accountId}/domains`, apiKey, { hostname: 'solo.example.com', servers: [a.serverId], origins: [{ address: '10.0.0.1' }] })
  await api.call('POST', `/v1/accounts/${accountId}/domains`, apiKey, { hostname: 'pair.example.com', servers: [a.serverId, b.serverId], origins: [{ address: '10.0.0.2' }] })

  const res = await api.call('DELETE', `/v1/accounts/${accountId}/servers/${a.serverId}`, apiKey)
  t.equal(res.status, 200)
  t.equal(res.body.server.status, 'decommissioned')
  t.same(res.body.warnings, { onlyOnThisServer: ['solo.example.com'], primaryOf: ['pair.example.com'] })
  const key = importPublicKey(api.mesh.publicKey)
  const latest = (): string[] => openEnvelope(api.published[api.published.length - 1]!.envelope, key).config.servers.map(s => `${s.id}:${s.status}`)
  t.same(latest().sort(), [`${a.serverId}:decommissioned`, `${b.serverId}:pending`].sort(), 'still listed during the grace period')

  const cut: string[] = []
  const sweeper = new DecommissionSweeper({ store: api.store, versions: api.versions, graceMs: HOUR, now: () => now, cutPeer: (peer) => { cut.push(peer) }, logger: pino({ level: 'silent' }) })
  await sweeper.sweep()
  t.same(latest().sort(), [`${a.serverId}:decommissioned`, `${b.serverId}:pending`].sort(), 'a sweep before the grace ends changes nothing')
  now += HOUR
  await sweeper.sweep()
  t.same(latest(), [`${b.serverId}:pending`], 'after the grace the server leaves the signed config')
  const published = api.published.length
  await sweeper.sweep()
  t.equal(api.published.length, published, 'sweeping again is a no-op')
  const again = await api.call('POST', `/v1/accounts/${accountId}/domains`, apiKey, { hostname: 'new.example.com', servers: [a.serverId], origins: [{ address: '10.0.0.3' }] })
  t.equal(again.body.code, 'UNKNOWN_SERVER', 'a decommissioned server cannot take new domains')
})
