// Durability with real processes (LocalFleet): the node daemon is SIGKILLed at random
// points while versions are being issued — HAProxy keeps running — and every time its
// haproxy.cfg on disk still passes `haproxy -c`, HAProxy serves the old or the new version,
// and the restarted daemon converges to the newest one. A node whose LevelDB store was
// damaged while it was stopped logs STORE_CORRUPT, moves the store aside and serves the
// newest version again after re-syncing from the mesh.
// Each version moves the domain's alias to v<i>.shop.example.com, so the alias a node
// answers tells which version its HAProxy serves.
import { readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { httpGet, LocalFleet, waitFor, type ShieldProcess } from '../../scripts/fleet/local-fleet.ts'
import { servesVersion, versionAlias } from '../fixtures/version-alias.ts'

const HOST = 'shop.example.com'
const KILLS = 10
const MAX_KILL_DELAY_MS = 300
/** Bound on a restarted daemon serving the newest version (generous: CI machines are shared). */
const CONVERGE_MS = 30_000
const SETTLE_MS = 60_000

const aliasOf = (version: number): string => versionAlias(HOST, version)

interface Scene {
  fleet: LocalFleet
  change: (i: number) => Promise<void>
}

async function startScene (t: Test, nodeCount: number): Promise<Scene> {
  // Short base dir: HAProxy socket paths are limited to 97 bytes.
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-du-'))
  let fleet: LocalFleet | undefined
  t.teardown(async () => {
    if (fleet !== undefined && !t.passing()) {
      for (const node of fleet.nodes) t.comment(`last lines of ${node.name}'s log:\n${fleet.logTail(node.name, 25)}`)
    }
    await fleet?.stop()
    await rm(baseDir, { recursive: true, force: true })
  })
  fleet = await LocalFleet.start({ baseDir, nodeCount, startTimeoutMs: SETTLE_MS })
  const started = fleet
  const originPort = await started.startOrigin('origin-a')
  const servers = started.nodes.map(node => node.serverId)
  const { domain } = await started.api<{ domain: { id: string } }>('POST', `/v1/accounts/${started.accountId}/domains`, {
    hostname: HOST, aliases: [aliasOf(0)], servers, origins: [{ address: '127.0.0.1', port: originPort }]
  })
  for (const node of started.nodes) await waitForAlias(node, 0, SETTLE_MS)
  const change = async (i: number): Promise<void> => {
    await started.api('PUT', `/v1/accounts/${started.accountId}/domains/${domain.id}`, {
      hostname: HOST, aliases: [aliasOf(i)], servers, origins: [{ address: '127.0.0.1', port: originPort }]
    })
  }
  return { fleet: started, change }
}

async function serves (node: ShieldProcess, version: number): Promise<boolean> {
  return await servesVersion(node, HOST, version, '/durability')
}

async function waitForAlias (node: ShieldProcess, version: number, timeoutMs: number): Promise<void> {
  await waitFor(`${node.name} to serve ${aliasOf(version)} only`, async () =>
    await serves(node, version) && !await serves(node, version - 1) ? true : undefined, timeoutMs)
}

t.test('SIGKILL of the node daemon at random points never leaves a half-written config, and the node converges', async t => {
  const { fleet, change } = await startScene(t, 1)
  const n1 = fleet.node(1)
  const cfg = join(n1.dataDir, 'haproxy', 'haproxy.cfg')
  const servedAtKill = { old: 0, new: 0, both: 0 }
  const restartMs: number[] = []
  for (let i = 1; i <= KILLS; i++) {
    await change(i)
    const delay = Math.floor(Math.random() * (MAX_KILL_DELAY_MS + 1))
    await new Promise(resolve => setTimeout(resolve, delay))
    await fleet.stopNode(1, { signal: 'SIGKILL' })
    t.ok(await n1.haproxy.status(), `kill ${i} (${delay} ms after the change): HAProxy keeps running without its daemon`)
    await t.resolves(n1.haproxy.check(cfg), `kill ${i}: haproxy -c passes on haproxy.cfg`)
    const [old, fresh] = [await serves(n1, i - 1), await serves(n1, i)]
    t.ok(old || fresh, `kill ${i}: HAProxy serves the old or the new version`)
    servedAtKill[old && fresh ? 'both' : fresh ? 'new' : 'old']++

    const restart = performance.now()
    await fleet.startNode(1)
    await waitForAlias(n1, i, CONVERGE_MS)
    restartMs.push(Math.round(performance.now() - restart))
  }
  t.comment(`what HAProxy served at the ${KILLS} kills: ${JSON.stringify(servedAtKill)} (both = mid runtime-API update)`)
  t.comment(`restart → serving the newest version: ${restartMs.join(', ')} ms`)
  await waitForAlias(n1, KILLS, CONVERGE_MS)
  await t.resolves(n1.haproxy.check(cfg), 'the final haproxy.cfg passes haproxy -c')
  const log = await readFile(fleet.logPath(n1.name), 'utf8')
  t.notMatch(log, /"code":"STORE_CORRUPT"/, 'SIGKILL never damaged the store')
})

t.test('a node whose store was damaged while stopped logs STORE_CORRUPT and serves the newest version again', async t => {
  const { fleet, change } = await startScene(t, 2)
  const n2 = fleet.node(2)
  await change(1)
  for (const node of fleet.nodes) await waitForAlias(node, 1, SETTLE_MS)
  await fleet.stopNode(2, { haproxy: true })
  await t.rejects(httpGet(n2.httpPort, aliasOf(1)), 'node 2 is really down')
  await change(2)
  await change(3)
  await waitForAlias(fleet.node(1), 3, SETTLE_MS)

  const db = join(n2.dataDir, 'db')
  const manifest = (await readdir(db)).find(f => f.startsWith('MANIFEST-'))
  t.ok(manifest, 'precondition: the store has a MANIFEST')
  await writeFile(join(db, manifest as string), Buffer.alloc(4096, 0x5a))
  await unlink(join(db, 'CURRENT'))

  const restart = performance.now()
  await fleet.startNode(2)
  await waitForAlias(n2, 3, CONVERGE_MS)
  t.comment(`damaged store → serving the newest version: ${Math.round(performance.now() - restart)} ms`)
  const lines = (await readFile(fleet.logPath(n2.name), 'utf8')).split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l) as Record<string, unknown>)
  const corrupt = lines.find(l => l.code === 'STORE_CORRUPT')
  t.ok(corrupt, 'node 2 logged STORE_CORRUPT')
  t.equal(corrupt?.level, 50, 'as an error')
  t.ok((await readdir(n2.dataDir)).some(f => f.startsWith('db.corrupt-')), 'the damaged store was moved aside')
  t.ok(await serves(n2, 3), 'node 2 serves the newest version again')
})
