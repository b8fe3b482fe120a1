// The walking skeleton end to end, with real processes: coordinator, three shield nodes
// with their own HAProxy, one origin. A domain on nodes 1 and 2 is served there and not on
// node 3; an origin change reaches both; node 2 restarts without the coordinator and
// comes back serving the persisted version.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { httpGet, LocalFleet, waitFor } from '../../scripts/fleet/local-fleet.ts'

const HOST = 'shop.example.com'

t.test('one signed change flows from the API to HAProxy on the assigned nodes', async t => {
  // Short base dir: HAProxy socket paths are limited to 97 bytes.
  const baseDir = await mkdtemp(join(tmpdir(), 'lumos-e2e-'))
  const fleet = await LocalFleet.start({ baseDir, nodeCount: 3 })
  t.teardown(async () => { await fleet.stop(); await rm(baseDir, { recursive: true, force: true }) })
  const [n1, n2, n3] = [fleet.node(1), fleet.node(2), fleet.node(3)]
  const originA = await fleet.startOrigin('origin-a')
  const originB = await fleet.startOrigin('origin-b')

  const { domain } = await fleet.api<{ domain: { id: string } }>('POST', `/v1/accounts/${fleet.accountId}/domains`, {
    hostname: HOST, servers: [n1.serverId, n2.serverId], origins: [{ address: '127.0.0.1', port: originA }]
  })

  for (const node of [n1, n2]) {
    const answer = await waitFor(`${node.name} to serve ${HOST}`, async () => {
      const res = await httpGet(node.httpPort, HOST, '/hello')
      return res.status === 200 ? res : undefined
    })
    t.equal(answer.body, 'origin-a /hello\n', `${node.name} proxies ${HOST} to the origin`)
  }
  const onNode3 = await httpGet(n3.httpPort, HOST, '/hello')
  t.equal(onNode3.status, 404, 'node 3 is not assigned and does not serve the domain')
  t.match(onNode3.body, /no site for this host/)

  await fleet.api('PUT', `/v1/accounts/${fleet.accountId}/domains/${domain.id}`, {
    hostname: HOST, servers: [n1.serverId, n2.serverId], origins: [{ address: '127.0.0.1', port: originB }]
  })
  for (const node of [n1, n2]) {
    await waitFor(`${node.name} to serve the new origin`, async () => (await httpGet(node.httpPort, HOST, '/x')).body === 'origin-b /x\n' ? true : undefined)
    t.pass(`${node.name} serves the changed origin`)
  }

  await fleet.stopCoordinator()
  await fleet.stopNode(2, { haproxy: true })
  await t.rejects(httpGet(n2.httpPort, HOST, '/x'), 'node 2 is really down before the restart')
  await fleet.startNode(2)
  const afterRestart = await waitFor('node 2 to serve after restart', async () => {
    const res = await httpGet(n2.httpPort, HOST, '/again')
    return res.status === 200 ? res : undefined
  })
  t.equal(afterRestart.body, 'origin-b /again\n', 'node 2 serves the persisted version with the coordinator down')
})
