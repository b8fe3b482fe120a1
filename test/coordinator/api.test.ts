// The coordinator HTTP API over a real LevelDB store and a real signing key, through
// fastify inject(). Publishing is recorded instead of sent: the mesh is not under test.
import t from 'tap'
import { sha256Hex } from '../../coordinator/api/auth.ts'
import { importPublicKey, openEnvelope } from '../../proto/envelope.ts'
import { ADMIN_KEY, newPeerId, NOW, setup, withServer } from '../fixtures/coordinator-api.ts'

t.test('a request without an API key is refused with 401 UNAUTHORIZED', async t => {
  const { call, createAccount } = await setup(t)
  const { accountId } = await createAccount()
  const res = await call('GET', `/v1/accounts/${accountId}`, undefined)
  t.equal(res.status, 401)
  t.equal(res.body.code, 'UNAUTHORIZED')
})

t.test('a request with an unknown API key is refused with 401 UNAUTHORIZED', async t => {
  const { call, createAccount } = await setup(t)
  const { accountId } = await createAccount()
  const res = await call('GET', `/v1/accounts/${accountId}`, 'lgk_not-a-real-key')
  t.equal(res.status, 401)
  t.equal(res.body.code, 'UNAUTHORIZED')
})

t.test('an account key used on another account is refused with 403 FORBIDDEN', async t => {
  const { call, createAccount } = await setup(t)
  const mine = await createAccount()
  const other = await createAccount()
  const res = await call('GET', `/v1/accounts/${other.accountId}`, mine.apiKey)
  t.equal(res.status, 403)
  t.equal(res.body.code, 'FORBIDDEN')
})

t.test('an account key cannot create accounts', async t => {
  const { call, createAccount } = await setup(t)
  const { apiKey } = await createAccount()
  const res = await call('POST', '/v1/accounts', apiKey, { name: 'Sneaky' })
  t.equal(res.status, 403)
  t.equal(res.body.code, 'FORBIDDEN')
})

t.test('the admin creates an account whose API key then reads it', async t => {
  const { call } = await setup(t)
  const created = await call('POST', '/v1/accounts', ADMIN_KEY, { name: 'Acme', plan: 'pro' })
  t.equal(created.status, 201)
  t.match(created.body, { account: { name: 'Acme', plan: 'pro' }, apiKey: /^lgk_/ })
  const read = await call('GET', `/v1/accounts/${created.body.account.id}`, created.body.apiKey)
  t.equal(read.status, 200)
  t.same(read.body, { account: created.body.account, config: null })
})

t.test('a server token is returned once at creation and only its hash is stored', async t => {
  const { call, store, createAccount } = await setup(t)
  const { accountId, apiKey } = await createAccount()
  const created = await call('POST', `/v1/accounts/${accountId}/servers`, apiKey, { name: 'EU Frankfurt' })
  t.equal(created.status, 201)
  const token = created.body.token as string
  t.match(token, /^lgt_/)
  const one = await call('GET', `/v1/accounts/${accountId}/servers/${created.body.server.id}`, apiKey)
  const list = await call('GET', `/v1/accounts/${accountId}/servers`, apiKey)
  for (const answer of [created.body.server, one.body, list.body]) {
    t.notMatch(JSON.stringify(answer), token)
    t.notMatch(JSON.stringify(answer), sha256Hex(token))
  }
  const stored = await store.getServer(accountId, created.body.server.id)
  t.equal(stored?.tokenHash, sha256Hex(token))
  t.notMatch(JSON.stringify(stored), token)
})

t.test('creating a domain answers 201 with the normalized domain', async t => {
  const { call, domainsUrl, apiKey, serverId } = await withServer(t)
  const res = await call('POST', domainsUrl, apiKey, { hostname: 'Shop.Example.COM', servers: [serverId], origins: [{ address: '10.0.0.5', tls: true }] })
  t.equal(res.status, 201)
  t.match(res.body.domain, { id: /^dom_/, hostname: 'shop.example.com', serverIds: [serverId], origins: [{ address: '10.0.0.5', port: 443, weight: 100, tls: true }] })
})

t.test('every accepted change creates and publishes the next config version', async t => {
  const { call, createAccount, createServer, published } = await setup(t)
  const { accountId, apiKey } = await createAccount()
  const versionOf = async (): Promise<unknown> => (await call('GET', `/v1/accounts/${accountId}`, apiKey)).body.config?.version
  t.equal(await versionOf(), undefined, 'an account alone has no version')
  const { serverId } = await createServer(accountId, apiKey)
  t.equal(await versionOf(), 1)
  await call('POST', `/v1/accounts/${accountId}/domains`, apiKey, { hostname: 'a.example.com', servers: [serverId], origins: [{ address: '10.0.0.5' }] })
  t.equal(await versionOf(), 2)
  t.same(published.map(p => p.accountId), [accountId, accountId])
})

t.test('the published envelope verifies with the coordinator key and carries the domains', async t => {
  const { call, domainsUrl, apiKey, domainBody, published, mesh, accountId, serverId, store } = await withServer(t)
  await call('POST', domainsUrl, apiKey, domainBody)
  const last = published.at(-1)
  t.ok(last)
  const { config, hash } = openEnvelope(last!.envelope, importPublicKey(mesh.publicKey))
  t.match(config, { accountId, version: 2, issuedAtMs: NOW, servers: [{ id: serverId }] })
  t.same(config.domains.map(d => ({ hostname: d.hostname, aliases: d.aliases, serverIds: d.serverIds, origins: d.origins })), [
    { hostname: 'shop.example.com', aliases: ['www.shop.example.com'], serverIds: [serverId], origins: [{ address: '10.0.0.5', port: 8080, weight: 100, tls: false }] }
  ])
  t.equal(Buffer.from(hash).toString('hex'), (await store.getHead(accountId))?.hash)
  const first = openEnvelope(published[0]!.envelope, importPublicKey(mesh.publicKey))
  t.same(config.previousHash, first.hash, 'version 2 chains to version 1')
})

const rejected: Array<{ name: string, status: number, code: string, body: (valid: Record<string, unknown>) => Record<string, unknown> }> = [
  { name: 'an invalid hostname', status: 400, code: 'INVALID_HOSTNAME', body: valid => ({ ...valid, hostname: 'shop example.com' }) },
  { name: 'a link-local origin 169.254.1.1', status: 400, code: 'INVALID_ORIGIN_IP', body: valid => ({ ...valid, origins: [{ address: '169.254.1.1' }] }) },
  { name: 'the unspecified origin 0.0.0.0', status: 400, code: 'INVALID_ORIGIN_IP', body: valid => ({ ...valid, origins: [{ address: '0.0.0.0' }] }) },
  { name: 'a link-local IPv6 origin fe80::1', status: 400, code: 'INVALID_ORIGIN_IP', body: valid => ({ ...valid, origins: [{ address: 'fe80::1' }] }) },
  { name: 'an unknown server id', status: 400, code: 'UNKNOWN_SERVER', body: valid => ({ ...valid, servers: ['srv_000000000000'] }) },
  { name: 'an extra body field', status: 400, code: 'VALIDATION_FAILED', body: valid => ({ ...valid, owner: 'me' }) },
  { name: 'a hostname already used by another domain', status: 409, code: 'HOSTNAME_TAKEN', body: valid => ({ ...valid, hostname: 'taken.example.com' }) },
  { name: 'an alias already used by another domain', status: 409, code: 'HOSTNAME_TAKEN', body: valid => ({ ...valid, aliases: ['taken.example.com'] }) }
]

for (const { name, status, code, body } of rejected) {
  t.test(`a domain with ${name} is rejected with ${status} ${code} and nothing stored changes`, async t => {
    const { call, domainsUrl, apiKey, domainBody, serverId, accountId, storedState, store } = await withServer(t)
    const taken = await call('POST', domainsUrl, apiKey, { hostname: 'taken.example.com', servers: [serverId], origins: [{ address: '10.0.0.9' }] })
    t.equal(taken.status, 201)
    const before = await storedState(accountId)
    const res = await call('POST', domainsUrl, apiKey, body(domainBody))
    t.equal(res.status, status)
    t.equal(res.body.code, code)
    t.same(await storedState(accountId), before)
    t.equal(await store.getHostname('shop.example.com'), undefined)
  })
}

t.test('a second server on the free plan is refused with 409 PLAN_LIMIT and nothing stored changes', async t => {
  const { call, accountId, apiKey, storedState } = await withServer(t)
  const before = await storedState(accountId)
  const res = await call('POST', `/v1/accounts/${accountId}/servers`, apiKey, { name: 'US Ashburn' })
  t.equal(res.status, 409)
  t.equal(res.body.code, 'PLAN_LIMIT')
  t.same(await storedState(accountId), before)
})

t.test('enrolling with an unknown token is refused with 401 INVALID_TOKEN', async t => {
  const { call } = await withServer(t)
  const res = await call('POST', '/v1/enroll', undefined, { token: 'lgt_not-a-real-token', peerId: await newPeerId(), multiaddrs: [] })
  t.equal(res.status, 401)
  t.equal(res.body.code, 'INVALID_TOKEN')
})

t.test('enrolling with a valid token binds the node peer id to the server', async t => {
  const { call, token, serverId, accountId, apiKey, mesh, allowedPeers, published } = await withServer(t)
  const peerId = await newPeerId()
  const res = await call('POST', '/v1/enroll', undefined, { token, peerId, multiaddrs: ['/ip4/127.0.0.1/tcp/7801'] })
  t.equal(res.status, 200)
  t.match(res.body, { serverId, accountId, coordinatorPublicKey: mesh.publicKey, coordinatorPeerId: mesh.peerId, configTopic: `lumos/${accountId}/config/1` })
  const server = (await call('GET', `/v1/accounts/${accountId}/servers/${serverId}`, apiKey)).body.server
  t.match(server, { peerId, status: 'online', multiaddrs: ['/ip4/127.0.0.1/tcp/7801'] })
  t.same(allowedPeers, [peerId])
  t.match(openEnvelope(published.at(-1)!.envelope, importPublicKey(mesh.publicKey)).config.servers, [{ id: serverId, peerId }])
})

t.test('re-enrolling with the same peer id succeeds', async t => {
  const { call, token, serverId } = await withServer(t)
  const peerId = await newPeerId()
  await call('POST', '/v1/enroll', undefined, { token, peerId, multiaddrs: [] })
  const again = await call('POST', '/v1/enroll', undefined, { token, peerId, multiaddrs: [] })
  t.equal(again.status, 200)
  t.equal(again.body.serverId, serverId)
})

t.test('enrolling a used token with another peer id is refused with 409 TOKEN_ALREADY_USED', async t => {
  const { call, token, accountId, serverId, store } = await withServer(t)
  const peerId = await newPeerId()
  await call('POST', '/v1/enroll', undefined, { token, peerId, multiaddrs: [] })
  const res = await call('POST', '/v1/enroll', undefined, { token, peerId: await newPeerId(), multiaddrs: [] })
  t.equal(res.status, 409)
  t.equal(res.body.code, 'TOKEN_ALREADY_USED')
  t.equal((await store.getServer(accountId, serverId))?.peerId, peerId)
})

t.test('two accounts claiming one hostname at the same moment: one gets it, the other 409 HOSTNAME_TAKEN', async t => {
  const api = await setup(t)
  const tenants = await Promise.all([0, 1].map(async () => {
    const { accountId, apiKey } = await api.createAccount()
    const { serverId } = await api.createServer(accountId, apiKey)
    return { accountId, apiKey, serverId }
  }))
  for (let round = 0; round < 10; round++) {
    const hostname = `race-${round}.example.com`
    const answers = await Promise.all(tenants.map(async ({ accountId, apiKey, serverId }) =>
      await api.call('POST', `/v1/accounts/${accountId}/domains`, apiKey, { hostname, servers: [serverId], origins: [{ address: '10.0.0.5' }] })))
    t.same(answers.map(a => a.status).sort(), [201, 409], `${hostname}: one created, one refused`)
    const winner = answers.findIndex(a => a.status === 201)
    t.equal(answers[1 - winner]?.body.code, 'HOSTNAME_TAKEN')
    t.equal((await api.store.getHostname(hostname))?.accountId, tenants[winner]?.accountId, 'the hostname index names the winner')
    const holders = await Promise.all(tenants.map(async ({ accountId }) => (await api.store.listDomains(accountId)).filter(d => d.hostname === hostname).length))
    t.same(holders.sort(), [0, 1], 'exactly one account has a domain with it')
  }
})
