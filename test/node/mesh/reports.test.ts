// The node's reports topic: a config version HAProxy refuses (real HAProxy through the apply
// path) becomes a ServerErrorReport that waits in the outbox until the coordinator's peer
// subscribes, then reaches it over real gossip with HAProxy's message, bounded. The node
// publishes reports without subscribing the topic: they go to the coordinator, not through it.
import { pino } from 'pino'
import t, { type Test } from 'tap'
import type { ServerErrorReport } from '../../../proto/codec.ts'
import { COORDINATOR_SERVER_ID } from '../../../proto/heartbeat.ts'
import { createMeshPeer, newPeerKey, reportsTopic, type MeshPeer } from '../../../proto/mesh-peer.ts'
import { decodeReport, HAPROXY_RELOAD_FAILED, MAX_ERROR_MESSAGE_CHARS } from '../../../proto/report.ts'
import { NodeReports, OUTBOX_SIZE } from '../../../node/mesh/reports.ts'
import { renderHaproxyConfig } from '../../../node/render/render.ts'
import { startScene } from '../apply/scene.ts'
import { waitFor } from '../../fixtures/wait.ts'

const ACCOUNT = 'acc_reports'
const TOPIC = reportsTopic(ACCOUNT)
const logger = pino({ level: 'silent' })

/** A node's reports outbox and a coordinator peer, both on loopback, stopped at teardown. */
async function nodeAndCoordinator (t: Test): Promise<{ node: MeshPeer, coordinator: MeshPeer, reports: NodeReports }> {
  const node = await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
  const coordinator = await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })
  t.teardown(async () => { await node.stop(); await coordinator.stop() })
  const reports = new NodeReports({
    pubsub: node.services.pubsub,
    topic: TOPIC,
    serverId: 'srv_test',
    peerId: node.peerId.toString(),
    serverIdOf: (peerId) => peerId === coordinator.peerId.toString() ? COORDINATOR_SERVER_ID : undefined,
    logger,
    retryMs: 50
  })
  t.teardown(() => { reports.stop() })
  return { node, coordinator, reports }
}

t.test('a version HAProxy refuses is reported to the coordinator once it listens, with HAProxy\'s message', async t => {
  const { node, coordinator, reports } = await nodeAndCoordinator(t)
  let broken = false
  const failed: number[] = []
  const scene = await startScene(t, {
    render: (input) => {
      const rendered = renderHaproxyConfig(input)
      const junk = `backend broken\n    no-such-keyword ${'x'.repeat(3000)}\n`
      return broken ? { ...rendered, haproxyCfg: `${rendered.haproxyCfg}${junk}`, hash: `${rendered.hash}-broken` } : rendered
    },
    // The same wiring as node/index.ts: a failed apply is a haproxy_reload_failed server error.
    onFailed: (version, err) => {
      failed.push(version)
      reports.reportServerError({ type: HAPROXY_RELOAD_FAILED, message: err.message, version })
    }
  })
  reports.start()
  await node.dial(coordinator.getMultiaddrs())
  // Reports go to the coordinator only; a node relays none (docs/decisions/002-gossipsub.md).
  t.notOk(node.services.pubsub.getTopics().includes(TOPIC), 'the node does not subscribe the reports topic')

  await scene.apply(scene.version(1, [scene.domain()]))
  t.equal((await scene.get('/.lumos/health')).status, 200, 'the rendered config answers the node\'s health check itself')
  broken = true
  t.equal(await scene.apply(scene.version(2, [scene.domain()])), undefined, 'version 2 was not applied')
  t.same(failed, [2], 'the apply path called onFailed')

  const received: ServerErrorReport[] = []
  coordinator.services.pubsub.addEventListener('message', (event) => {
    const report = decodeReport(event.detail.data)
    if (report.serverError != null) received.push(report.serverError)
  })
  await new Promise(resolve => setTimeout(resolve, 300))
  t.equal(reports.pending, 1, 'while the coordinator does not listen, the report waits in the outbox')
  t.equal(received.length, 0, 'nothing was published meanwhile')

  coordinator.services.pubsub.subscribe(TOPIC)
  const report = await waitFor('the coordinator to receive the server error', () => received[0])
  t.match(report, { serverId: 'srv_test', peerId: node.peerId.toString(), type: HAPROXY_RELOAD_FAILED, version: 2 }, 'a haproxy_reload_failed of version 2 from this node')
  t.match(report.message, /no-such-keyword/, 'it carries HAProxy\'s message')
  t.ok(report.message.length <= MAX_ERROR_MESSAGE_CHARS, `bounded to ${MAX_ERROR_MESSAGE_CHARS} characters (${report.message.length})`)
  t.ok(report.sentAtMs > 0, 'stamped with its time')
  t.equal(reports.pending, 0, 'the outbox is empty once it was delivered')
  await new Promise(resolve => setTimeout(resolve, 200))
  t.equal(received.length, 1, 'and it is not sent again')
})

t.test('the outbox keeps the newest server errors, each message cut to the bound', async t => {
  const { node, coordinator, reports } = await nodeAndCoordinator(t)
  // Queued before start(), as when HAProxy refuses the stored version while the node resumes.
  for (let version = 1; version <= 40; version++) reports.reportServerError({ type: HAPROXY_RELOAD_FAILED, message: `[ALERT] ${'y'.repeat(5000)}`, version })
  t.equal(reports.pending, OUTBOX_SIZE, `the outbox holds ${OUTBOX_SIZE}`)

  const received: ServerErrorReport[] = []
  coordinator.services.pubsub.addEventListener('message', (event) => {
    const report = decodeReport(event.detail.data)
    if (report.serverError != null) received.push(report.serverError)
  })
  coordinator.services.pubsub.subscribe(TOPIC)
  reports.start()
  await node.dial(coordinator.getMultiaddrs())
  await waitFor('the whole outbox to arrive', () => received.length === OUTBOX_SIZE)
  t.same(received.map(r => r.version), Array.from({ length: OUTBOX_SIZE }, (_, i) => 40 - OUTBOX_SIZE + 1 + i), 'the newest ones, oldest first')
  t.ok(received.every(r => r.message.length === MAX_ERROR_MESSAGE_CHARS && r.message.startsWith('[ALERT]')), `each message cut to ${MAX_ERROR_MESSAGE_CHARS} characters`)
})
