// Config distribution over lossy links, with real processes: while half the packets on
// every mesh link (the libp2p ports of the coordinator and of the three nodes) are dropped at
// random, versions are issued through the API. Every node must end up serving the newest
// one (gossip rides on TCP, which resends; a node that missed a version catches up from a
// heartbeat claim over /lumos/sync/1), and no node may ever apply a version older than one
// it applied. Each version moves the domain's alias to v<i>.shop.example.com, so the alias
// a node answers tells which version its HAProxy serves. Needs root and iptables.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { httpGet, LocalFleet, waitFor, type ShieldProcess } from '../../scripts/fleet/local-fleet.ts'
import { servesVersion, versionAlias } from '../fixtures/version-alias.ts'
import { droppedPackets, withPacketLoss } from '../../scripts/fleet/packet-loss.ts'

const HOST = 'shop.example.com'
const LOSS = 0.5
const VERSIONS = 20
/** Between two changes through the API: a burst, but not one signed version per millisecond. */
const CHANGE_GAP_MS = 100
/** Bound on starting processes and on convergence (generous: CI machines are shared). */
const SETTLE_MS = 60_000

const aliasOf = (version: number): string => versionAlias(HOST, version)

async function servesAlias (node: ShieldProcess, version: number): Promise<boolean> {
  return await servesVersion(node, HOST, version, '/lossy')
}

/** The config versions a node logged as applied, in log order. */
async function appliedVersions (fleet: LocalFleet, node: ShieldProcess): Promise<number[]> {
  const text = await readFile(fleet.logPath(node.name), 'utf8')
  return text.split('\n').filter(line => line.includes('"msg":"version applied"')).map(line => (JSON.parse(line) as { version: number }).version)
}

t.test(`with ${LOSS * 100} % packet loss on every mesh link, every node converges on the newest version and never goes back`, async t => {
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-ls-'))
  let fleet: LocalFleet | undefined
  t.teardown(async () => {
    if (fleet !== undefined && !t.passing()) {
      for (const node of fleet.nodes) t.comment(`last lines of ${node.name}'s log:\n${fleet.logTail(node.name, 20)}`)
    }
    await fleet?.stop()
    await rm(baseDir, { recursive: true, force: true })
  })
  fleet = await LocalFleet.start({ baseDir, nodeCount: 3, startTimeoutMs: SETTLE_MS })
  const scene = fleet
  const originPort = await scene.startOrigin('origin-a')
  const serverIds = scene.nodes.map(node => node.serverId)
  const body = (version: number): unknown => ({ hostname: HOST, aliases: [aliasOf(version)], servers: serverIds, origins: [{ address: '127.0.0.1', port: originPort }] })
  const { domain } = await scene.api<{ domain: { id: string } }>('POST', `/v1/accounts/${scene.accountId}/domains`, body(0))
  for (const node of scene.nodes) {
    await waitFor(`${node.name} to serve ${aliasOf(0)}`, async () => await servesAlias(node, 0) ? true : undefined, SETTLE_MS)
  }

  const meshPorts = [scene.coordinatorP2pPort, ...scene.nodes.map(node => node.p2pPort)]
  const { convergedMs, dropped } = await withPacketLoss(meshPorts, LOSS, async () => {
    let issued = 0
    for (let i = 1; i <= VERSIONS; i++) {
      if (i > 1) await new Promise(resolve => setTimeout(resolve, CHANGE_GAP_MS))
      await scene.api('PUT', `/v1/accounts/${scene.accountId}/domains/${domain.id}`, body(i))
      issued = performance.now()
    }
    await Promise.all(scene.nodes.map(async node => {
      await waitFor(`${node.name} to serve ${aliasOf(VERSIONS)} under loss`, async () => await servesAlias(node, VERSIONS) ? true : undefined, SETTLE_MS)
    }))
    return { convergedMs: Math.round(performance.now() - issued), dropped: await droppedPackets(meshPorts) }
  })
  t.ok(dropped > 0, `the loss rules dropped ${dropped} packets of the mesh meanwhile`)
  t.pass(`every node serves the newest version, ${convergedMs} ms after the last change was accepted`)
  t.comment(`${VERSIONS} versions, ${CHANGE_GAP_MS} ms apart, with ${LOSS * 100} % loss (${dropped} packets dropped): all 3 nodes serve the last ${convergedMs} ms after it was accepted`)

  for (const node of scene.nodes) {
    t.equal((await httpGet(node.httpPort, aliasOf(VERSIONS - 1), '/lossy')).status, 404, `${node.name}: the previous alias is gone`)
    const applied = await appliedVersions(scene, node)
    t.ok(applied.every((version, i) => i === 0 || version > (applied[i - 1] as number)), `${node.name} applied versions in increasing order only (${applied.join(' ')})`)
    // Late copies (a version overtaken by a newer one that came another way) are no offence.
    const rejected = (await readFile(scene.logPath(node.name), 'utf8')).split('\n').filter(line => line.includes('"msg":"gossip message rejected"'))
    t.same(rejected.map(line => (JSON.parse(line) as { reason: string }).reason), [], `${node.name} rejected no message of the honest coordinator and peers`)
  }
})
