// The coordinator keeps each account's records in memory (coordinator/store/account-state.ts)
// and updates them only after a batch is durable. These tests check that this mirror never
// drifts from LevelDB: after rejected changes, after a failed write, and across a restart.
import { join } from 'node:path'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { buildApi } from '../../coordinator/api/app.ts'
import { sha256Hex } from '../../coordinator/api/auth.ts'
import { buildConfigVersion, ConfigVersions } from '../../coordinator/config-versions.ts'
import { CoordinatorStore } from '../../coordinator/store/store.ts'
import { configVersionCodec } from '../../proto/codec.ts'
import { decodeConfigPayload, exportPublicKey, generateSigningKey, importPublicKey, openEnvelope, type SigningKey } from '../../proto/envelope.ts'
import { ADMIN_KEY, NOW } from '../fixtures/coordinator-api.ts'

async function start (dir: string, signingKey: SigningKey) {
  const store = new CoordinatorStore(join(dir, 'db'))
  await store.open()
  const logger = pino({ level: 'silent' })
  const published: Uint8Array[] = []
  const versions = new ConfigVersions({ store, signingKey, now: () => NOW, logger, publish: async (_account, envelope) => { published.push(envelope) } })
  const mesh = { peerId: 'peer', multiaddrs: () => [], publicKey: exportPublicKey(signingKey.publicKey), admitPeer: async () => {} }
  const app = await buildApi({ store, versions, mesh, adminKeyHash: sha256Hex(ADMIN_KEY), now: () => NOW, logger })
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, key: string, payload?: object) => {
    const res = await app.inject({ method, url, payload, headers: { authorization: `Bearer ${key}` } })
    return { status: res.statusCode, body: res.json() }
  }
  const close = async (): Promise<void> => { await app.close(); await store.close() }
  return { store, published, call, close }
}

type Coordinator = Awaited<ReturnType<typeof start>>

/** The newest published config must be exactly what the stored records describe. */
async function checkMatchesStore (t: Test, c: Coordinator, accountId: string, signingKey: SigningKey): Promise<void> {
  const head = await c.store.getHead(accountId)
  const envelope = await c.store.getVersion(accountId, head!.version)
  const { config, hash } = openEnvelope(envelope!, importPublicKey(exportPublicKey(signingKey.publicKey)))
  t.equal(Buffer.from(hash).toString('hex'), head!.hash, 'head hash is the stored payload hash')
  const stored = { accountId, account: (await c.store.getAccount(accountId))!, servers: await c.store.listServers(accountId), domains: await c.store.listDomains(accountId) }
  const expected = buildConfigVersion(stored, config.version, config.previousHash, config.issuedAtMs)
  t.same(configVersionCodec.encode(config), configVersionCodec.encode(expected), 'signed config equals the stored records')
}

async function setupAccount (c: Coordinator) {
  const created = await c.call('POST', '/v1/accounts', ADMIN_KEY, { name: 'Acme', plan: 'pro' })
  const accountId = created.body.account.id as string
  const key = created.body.apiKey as string
  const serverId = (await c.call('POST', `/v1/accounts/${accountId}/servers`, key, { name: 'EU' })).body.server.id as string
  const body = (hostname: string, port = 80) => ({ hostname, aliases: [`www.${hostname}`], servers: [serverId], origins: [{ address: '10.0.0.5', port }] })
  return { accountId, key, body, url: `/v1/accounts/${accountId}/domains` }
}

t.test('rejected changes leave memory and store alike, and the next change builds on both', async t => {
  const signingKey = generateSigningKey()
  const c = await start(t.testdir(), signingKey)
  t.teardown(c.close)
  const { accountId, key, body, url } = await setupAccount(c)
  const a = (await c.call('POST', url, key, body('a.example.com'))).body.domain
  const b = (await c.call('POST', url, key, body('b.example.com'))).body.domain
  const head = await c.store.getHead(accountId)

  t.equal((await c.call('PUT', `${url}/${b.id as string}`, key, body('a.example.com'))).body.code, 'HOSTNAME_TAKEN')
  t.equal((await c.call('POST', `${url}/import`, key, { domains: [body('c.example.com'), body('www.b.example.com')] })).body.code, 'HOSTNAME_TAKEN')
  t.equal((await c.call('PUT', `${url}/${b.id as string}`, key, { ...body('b.example.com'), servers: ['srv_nope'] })).body.code, 'UNKNOWN_SERVER')
  t.same(await c.store.getHead(accountId), head, 'no version for rejected changes')
  t.equal(await c.store.getHostname('c.example.com'), undefined, 'a rejected import claims nothing')

  // b gives up its name; a may take b's old alias at once, and c.example.com is still free.
  t.equal((await c.call('PUT', `${url}/${b.id as string}`, key, body('b2.example.com'))).status, 200)
  t.equal((await c.call('PUT', `${url}/${a.id as string}`, key, { ...body('a.example.com'), aliases: ['www.b.example.com'] })).status, 200)
  t.equal((await c.call('POST', `${url}/import`, key, { domains: [body('c.example.com')] })).status, 201)
  t.equal((await c.store.getHead(accountId))!.version, head!.version + 3)
  await checkMatchesStore(t, c, accountId, signingKey)
})

t.test('a failed write leaves the in-memory state unchanged', async t => {
  const signingKey = generateSigningKey()
  const c = await start(t.testdir(), signingKey)
  t.teardown(c.close)
  const { accountId, key, body, url } = await setupAccount(c)
  const a = (await c.call('POST', url, key, body('a.example.com'))).body.domain
  const head = await c.store.getHead(accountId)
  const write = c.store.write.bind(c.store)
  c.store.write = async () => { throw new Error('disk full') }
  const failed = await c.call('PUT', `${url}/${a.id as string}`, key, body('renamed.example.com', 8080))
  t.equal(failed.status, 500, 'the failure happened')
  c.store.write = write
  t.same(await c.store.getHead(accountId), head)
  // The name the failed change would have released is still a's; a new domain cannot take it.
  t.equal((await c.call('POST', url, key, body('a.example.com'))).body.code, 'HOSTNAME_TAKEN')
  t.equal((await c.call('PUT', `${url}/${a.id as string}`, key, body('a.example.com', 9090))).status, 200)
  t.equal((await c.store.getHead(accountId))!.version, head!.version + 1)
  await checkMatchesStore(t, c, accountId, signingKey)
})

t.test('a restarted coordinator continues the same version chain from the same data dir', async t => {
  const dir = t.testdir()
  const signingKey = generateSigningKey()
  let c = await start(dir, signingKey)
  const { accountId, key, body, url } = await setupAccount(c)
  const a = (await c.call('POST', url, key, body('a.example.com'))).body.domain
  await c.call('POST', `${url}/import`, key, { domains: [body('b.example.com'), body('c.example.com')] })
  const before = await c.store.getHead(accountId)
  await c.close()

  c = await start(dir, signingKey)
  t.teardown(c.close)
  t.equal((await c.call('POST', url, key, body('b.example.com'))).body.code, 'HOSTNAME_TAKEN', 'hostnames survive the restart')
  t.equal((await c.call('PUT', `${url}/${a.id as string}`, key, body('a.example.com', 8443))).status, 200)
  const after = await c.store.getHead(accountId)
  t.equal(after!.version, before!.version + 1)
  const config = decodeConfigPayload(openEnvelope(c.published[0]!, signingKey.publicKey).envelope)
  t.equal(config.version, before!.version + 1)
  t.equal(Buffer.from(config.previousHash).toString('hex'), before!.hash, 'chains to the version written before the restart')
  t.equal(config.domains.length, 3)
  await checkMatchesStore(t, c, accountId, signingKey)
})
