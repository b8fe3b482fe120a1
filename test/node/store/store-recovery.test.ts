// openNodeStore (node/store/store-recovery.ts) against real LevelDB directories: a healthy
// store opens as it is; a damaged one is reported as STORE_CORRUPT, moved aside as
// db.corrupt-<timestamp> and replaced by an empty, working store; a locked one is not touched.
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import t, { type Test } from 'tap'
import { NodeStore } from '../../../node/store/node-store.ts'
import { openNodeStore } from '../../../node/store/store-recovery.ts'
import { encodeEnvelope, generateSigningKey, signConfigVersion } from '../../../proto/envelope.ts'
import { withDomainDefaults } from '../../../proto/domain-settings.ts'

const NOW = 1_700_000_000_000

function captured (): { logger: Logger, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const sink = new Writable({ write (chunk: Buffer, _e, done) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  return { logger: pino({ level: 'info' }, sink), lines }
}

const envelope = encodeEnvelope(signConfigVersion({
  accountId: 'acc_1', version: 1, previousHash: new Uint8Array(), issuedAtMs: 1, servers: [], accountIpBlacklist: [], challengeKey: new Uint8Array(32),
  domains: [withDomainDefaults({ id: 'dom_a', hostname: 'shop.example.com', aliases: [], serverIds: [], origins: [{ address: '10.0.0.5', port: 80, weight: 100, tls: false }] })]
}, generateSigningKey()))

/** A store holding versions 1..3 and an applied pointer, closed. */
async function filledStore (dir: string): Promise<string> {
  const location = join(dir, 'db')
  const store = new NodeStore(location)
  await store.open()
  for (let v = 1; v <= 3; v++) await store.putVersion(v, envelope)
  await store.setApplied({ version: 3, renderHash: 'abc' })
  await store.close()
  return location
}

async function expectRecovered (t: Test, dir: string, location: string, damage: () => Promise<void>): Promise<void> {
  await damage()
  const log = captured()
  const store = await openNodeStore(location, log.logger, () => NOW)
  t.teardown(async () => { await store.close() })
  const line = log.lines.find(l => l.code === 'STORE_CORRUPT')
  t.ok(line, 'STORE_CORRUPT is logged')
  t.equal(line?.level, 50, 'as an error')
  t.equal(line?.movedTo, `${location}.corrupt-${NOW}`, 'naming where the damaged store went')
  t.ok((await readdir(dir)).includes(`db.corrupt-${NOW}`), 'the damaged directory is kept aside')
  t.equal(await store.latest(), undefined, 'the new store is empty')
  await store.putVersion(4, envelope)
  t.equal((await store.latest())?.version, 4, 'and works')
}

t.test('a healthy store opens with its data and logs nothing', async t => {
  const dir = t.testdir()
  const location = await filledStore(dir)
  const log = captured()
  const store = await openNodeStore(location, log.logger, () => NOW)
  t.teardown(async () => { await store.close() })
  t.equal((await store.latest())?.version, 3)
  t.equal((await store.applied())?.version, 3)
  t.same(log.lines, [])
})

t.test('a missing store directory is created empty', async t => {
  const log = captured()
  const store = await openNodeStore(join(t.testdir(), 'db'), log.logger)
  t.teardown(async () => { await store.close() })
  t.equal(await store.latest(), undefined)
  t.same(log.lines, [])
})

t.test('a store whose CURRENT file was deleted is moved aside, not silently recreated', async t => {
  const dir = t.testdir()
  const location = await filledStore(dir)
  await expectRecovered(t, dir, location, async () => { await unlink(join(location, 'CURRENT')) })
})

t.test('a store with garbage in CURRENT is moved aside', async t => {
  const dir = t.testdir()
  const location = await filledStore(dir)
  await expectRecovered(t, dir, location, async () => { await writeFile(join(location, 'CURRENT'), 'garbage') })
})

t.test('a store with garbage in its MANIFEST is moved aside', async t => {
  const dir = t.testdir()
  const location = await filledStore(dir)
  await expectRecovered(t, dir, location, async () => {
    const manifest = (await readdir(location)).find(f => f.startsWith('MANIFEST-'))
    if (manifest === undefined) throw new Error('no MANIFEST in the store')
    await writeFile(join(location, manifest), Buffer.alloc(512, 0x5a))
  })
})

t.test('a store holding an envelope that does not decode is moved aside', async t => {
  const dir = t.testdir()
  const location = join(dir, 'db')
  const store = new NodeStore(location)
  await store.open()
  await store.putVersion(1, new TextEncoder().encode('\xff\xff not an envelope'))
  await store.close()
  await expectRecovered(t, dir, location, async () => {})
})

t.test('a store locked by a running process is not corrupt: the error is rethrown and nothing moves', async t => {
  const dir = t.testdir()
  const location = await filledStore(dir)
  const holder = new NodeStore(location)
  await holder.open()
  t.teardown(async () => { await holder.close() })
  const log = captured()
  await t.rejects(openNodeStore(location, log.logger, () => NOW))
  t.same(await readdir(dir), ['db'], 'nothing was moved')
  t.same(log.lines.filter(l => l.code === 'STORE_CORRUPT'), [])
  t.match(await readFile(join(location, 'CURRENT'), 'utf8'), /^MANIFEST-/)
})
