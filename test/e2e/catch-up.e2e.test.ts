// Catch-up after a restart, with real processes: a node that was down while versions were
// issued comes back and serves the newest one without waiting for the next change — from
// the coordinator (100 versions behind), and from its peers while the coordinator is down.
// Each version moves the domain's alias to v<i>.shop.example.com, so the alias a node
// answers tells which version its HAProxy serves.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { httpGet, LocalFleet, waitFor, type ShieldProcess } from '../../scripts/fleet/local-fleet.ts'
import { servesVersion, versionAlias } from '../fixtures/version-alias.ts'

const HOST = 'shop.example.com'
/** Bound on catch-up after the restarted node's HAProxy is up (generous: CI machines are shared). */
const CATCH_UP_TIMEOUT_MS = 30_000
/** Bound on starting processes and on gossip reaching the running nodes. */
const SETTLE_MS = 60_000

const aliasOf = (version: number): string => versionAlias(HOST, version)

interface Scene {
  fleet: LocalFleet
  domainId: string
  originPort: number
  serverIds: string[]
}

/** A fleet of three nodes with the domain on all three, served by every node. */
async function startScene (t: Test): Promise<Scene> {
  // Short base dir: HAProxy socket paths are limited to 97 bytes.
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-cu-'))
  let fleet: LocalFleet | undefined
  t.teardown(async () => {
    if (fleet !== undefined && !t.passing()) {
      t.comment(`last lines of shield-3's log:\n${fleet.logTail('shield-3', 30)}`)
    }
    await fleet?.stop()
    await rm(baseDir, { recursive: true, force: true })
  })
  fleet = await LocalFleet.start({ baseDir, nodeCount: 3, startTimeoutMs: SETTLE_MS })
  const originPort = await fleet.startOrigin('origin-a')
  const serverIds = fleet.nodes.map(node => node.serverId)
  const { domain } = await fleet.api<{ domain: { id: string } }>('POST', `/v1/accounts/${fleet.accountId}/domains`, {
    hostname: HOST, aliases: [aliasOf(0)], servers: serverIds, origins: [{ address: '127.0.0.1', port: originPort }]
  })
  for (const node of fleet.nodes) await waitForAlias(node, 0, SETTLE_MS)
  return { fleet, domainId: domain.id, originPort, serverIds }
}

/** Issues versions 1..count of the alias (one signed config version each). */
async function issueVersions (scene: Scene, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    await scene.fleet.api('PUT', `/v1/accounts/${scene.fleet.accountId}/domains/${scene.domainId}`, {
      hostname: HOST, aliases: [aliasOf(i)], servers: scene.serverIds, origins: [{ address: '127.0.0.1', port: scene.originPort }]
    })
  }
}

async function servesAlias (node: ShieldProcess, version: number): Promise<boolean> {
  return await servesVersion(node, HOST, version, '/catch-up')
}

async function waitForAlias (node: ShieldProcess, version: number, timeoutMs: number): Promise<void> {
  await waitFor(`${node.name} to serve ${aliasOf(version)}`, async () => await servesAlias(node, version) ? true : undefined, timeoutMs)
}

/** Starts node 3 again and returns the ms from its HAProxy being up to serving `version`. */
async function restartAndMeasure (t: Test, scene: Scene, version: number): Promise<number> {
  const n3 = scene.fleet.node(3)
  await scene.fleet.startNode(3) // resolves once HAProxy answers on its master socket
  const up = performance.now()
  await waitFor(`${n3.name} to catch up to ${aliasOf(version)}`, async () => await servesAlias(n3, version) ? true : undefined, CATCH_UP_TIMEOUT_MS)
  const ms = Math.round(performance.now() - up)
  t.pass(`${n3.name} serves the newest version after the restart`)
  t.equal((await httpGet(n3.httpPort, aliasOf(version - 1), '/catch-up')).status, 404, 'the alias of the previous version is gone: the newest version is live')
  return ms
}

t.test('a restarted node catches up 100 versions from the coordinator without a new change', async t => {
  const scene = await startScene(t)
  const { fleet } = scene
  const n3 = fleet.node(3)
  const versions = 100

  await fleet.stopNode(3, { haproxy: true })
  await t.rejects(httpGet(n3.httpPort, aliasOf(0)), 'node 3 is really down')
  const issuing = performance.now()
  await issueVersions(scene, versions)
  t.comment(`${versions} versions issued through the API in ${Math.round(performance.now() - issuing)} ms`)
  for (const node of [fleet.node(1), fleet.node(2)]) await waitForAlias(node, versions, SETTLE_MS)
  t.pass('nodes 1 and 2 serve the newest version')

  const ms = await restartAndMeasure(t, scene, versions)
  t.comment(`catch-up with the coordinator up: ${ms} ms from HAProxy up to serving version +${versions}`)
})

t.test('a restarted node catches up from its peers while the coordinator is down', async t => {
  const scene = await startScene(t)
  const { fleet } = scene
  const n3 = fleet.node(3)
  const versions = 10

  await fleet.stopNode(3, { haproxy: true })
  await t.rejects(httpGet(n3.httpPort, aliasOf(0)), 'node 3 is really down')
  await issueVersions(scene, versions)
  for (const node of [fleet.node(1), fleet.node(2)]) await waitForAlias(node, versions, SETTLE_MS)
  t.pass('nodes 1 and 2 hold and serve a version node 3 has not seen')

  await fleet.stopCoordinator()
  await t.rejects(fetch(`${fleet.coordinatorUrl}/v1/health`, { signal: AbortSignal.timeout(2000) }), 'the coordinator is really down')

  const ms = await restartAndMeasure(t, scene, versions)
  t.comment(`catch-up with the coordinator down (from peers): ${ms} ms from HAProxy up to serving version +${versions}`)
})
