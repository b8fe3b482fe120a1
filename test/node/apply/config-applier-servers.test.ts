// Origin changes against a real HAProxy: a new origin address/port or weight goes live
// through the runtime API (`set server … addr/weight`) with no reload — traffic and health
// checks reach the new origin and HAProxy reports the new weight — while a change in the
// number of origins still reloads, and a runtime command HAProxy refuses falls back to a
// reload that brings the running servers back in line with the config.
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { persistDelayFor, PERSIST_DELAY_MS } from '../../../node/apply/config-applier.ts'
import { cliCommand } from '../../../node/haproxy/cli-socket.ts'
import { freePort, waitFor } from '../../../scripts/fleet/local-fleet.ts'
import { startScene, type Scene } from './scene.ts'

const BACKEND = 'site_dom_shop'

/** A second origin answering "second <path>" that records the requests it got. */
async function startSecondOrigin (t: Test): Promise<{ port: number, requests: IncomingHttpHeaders[] }> {
  const requests: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    requests.push(req.headers)
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end(`second ${req.url ?? '/'}\n`)
  })
  const port = await freePort()
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  return { port, requests }
}

/** `show servers state` of the domain's backend: server name → { port, weight }. */
async function serversState (scene: Scene): Promise<Map<string, { addr: string, port: number, weight: number }>> {
  const answer = await cliCommand(scene.haproxy.adminSocket, `show servers state ${BACKEND}`)
  const state = new Map<string, { addr: string, port: number, weight: number }>()
  for (const line of answer.split('\n')) {
    // be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight … srv_port (19th)
    const fields = line.trim().split(/\s+/)
    if (fields[1] === BACKEND && fields.length > 18) state.set(fields[3]!, { addr: fields[4]!, port: Number(fields[18]), weight: Number(fields[7]) })
  }
  return state
}

const origin = (port: number, weight = 100) => ({ address: '127.0.0.1', port, weight, tls: false })
/** The server line of a lone origin (not health-checked) in haproxy.cfg. */
const serverLine = (port: number, weight: number): RegExp => new RegExp(`^    server origin1 127\\.0\\.0\\.1:${port} weight ${weight}$`, 'm')

t.test('a new origin port and weight go live through the runtime API without a reload', async t => {
  const scene = await startScene(t)
  const second = await startSecondOrigin(t)
  // Two origins, so that they are health-checked; the standby (weight 0) takes no traffic.
  const standby = origin(scene.originPort, 0)
  await scene.apply(scene.version(1, [scene.domain({ origins: [origin(scene.originPort), standby] })]))
  t.equal((await scene.get('/a')).body, 'origin /a\n', 'the first origin serves')
  const before = await scene.haproxy.status()

  const result = await scene.apply(scene.version(2, [scene.domain({ origins: [origin(second.port, 30), standby] })]))
  t.match(result, { reloaded: false, runtime: true }, 'applied through the runtime API')
  t.comment(`runtime origin change: ${result?.durationMs.toFixed(1)} ms`)
  const after = await scene.haproxy.status()
  t.equal(after?.reloads, before?.reloads, 'the master counted no reload')
  t.same(after?.workerPids, before?.workerPids, 'the same worker serves')
  t.equal((await scene.get('/b')).body, 'second /b\n', 'traffic reaches the new origin')
  t.same((await serversState(scene)).get('origin1'), { addr: '127.0.0.1', port: second.port, weight: 30 }, 'HAProxy runs the new port and weight')
  // Health checks carry no X-Forwarded-For (option forwardfor is for proxied traffic only).
  await waitFor('a health check on the new origin', async () => second.requests.some(headers => headers['x-forwarded-for'] === undefined) ? true : undefined, 5000)
  t.pass('health checks follow the server to its new port')
  const cfg = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')
  t.match(cfg, `server origin1 127.0.0.1:${second.port} weight 30 check`, 'haproxy.cfg is written for the next start')
  t.same(scene.applier.reloads.map(r => r.result), ['ok'], 'one recorded reload: the start')

  const combined = await scene.apply(scene.version(3, [scene.domain({ origins: [origin(second.port, 60), standby], waf: { ipBlacklist: ['127.0.0.3'], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 } })]))
  t.match(combined, { reloaded: false, runtime: true }, 'a weight change beside a blacklist entry: runtime API too')
  t.equal((await serversState(scene)).get('origin1')?.weight, 60)
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 403, 'the blacklist entry takes effect')
  t.equal((await scene.haproxy.status())?.reloads, before?.reloads, 'still no reload')
})

t.test('adding an origin to a domain reloads HAProxy', async t => {
  const scene = await startScene(t)
  const second = await startSecondOrigin(t)
  await scene.apply(scene.version(1, [scene.domain()]))
  const before = await scene.haproxy.status()
  const result = await scene.apply(scene.version(2, [scene.domain({ origins: [origin(scene.originPort), origin(second.port)] })]))
  t.match(result, { reloaded: true, runtime: false })
  t.equal((await scene.haproxy.status())?.reloads, (before?.reloads ?? 0) + 1, 'the master counted a reload')
  t.match(scene.applier.reloads.at(-1), { version: 2, result: 'ok', reason: 'haproxy.cfg changed beyond server addresses and weights' })
  t.same([...(await serversState(scene)).keys()].sort(), ['origin1', 'origin2'], 'both origins run')
})

t.test('an origin change HAProxy refuses at run time falls back to a reload', async t => {
  const scene = await startScene(t)
  const second = await startSecondOrigin(t)
  await scene.apply(scene.version(1, [scene.domain()]))
  // The running servers drift from haproxy.cfg: someone removed the server on the admin socket.
  t.match(await cliCommand(scene.haproxy.adminSocket, `disable server ${BACKEND}/origin1;del server ${BACKEND}/origin1`), /Server deleted/)
  t.equal((await serversState(scene)).size, 0, 'the server is gone from the running HAProxy')
  const before = await scene.haproxy.status()

  const result = await scene.apply(scene.version(2, [scene.domain({ origins: [origin(second.port)] })]))
  const record = scene.applier.reloads.at(-1)
  t.match(record, { version: 2, result: 'ok', reason: /^runtime API update failed: .*No such server/ }, 'the refusal is the recorded reason of a reload')
  t.match(result, { reloaded: true, runtime: false })
  t.equal((await scene.haproxy.status())?.reloads, (before?.reloads ?? 0) + 1, 'the master counted a reload')
  t.same((await serversState(scene)).get('origin1'), { addr: '127.0.0.1', port: second.port, weight: 100 }, 'the reload runs the new origin')
  t.equal((await scene.get('/c')).body, 'second /c\n', 'traffic reaches the new origin')
})

t.test('origin moves go live before haproxy.cfg is rendered: a burst is written once it is quiet, and a full apply writes what runs first', async t => {
  const scene = await startScene(t, { persistDelayMs: 400 })
  const second = await startSecondOrigin(t)
  const cfgPath = join(scene.dir, 'haproxy.cfg')
  await scene.apply(scene.version(1, [scene.domain()]))
  const written = await readFile(cfgPath, 'utf8')
  const before = await scene.haproxy.status()

  const moved = await scene.apply(scene.version(2, [scene.domain({ origins: [origin(second.port, 30)] })]))
  t.match(moved, { reloaded: false, runtime: true, renderHash: '' }, 'applied through the runtime API, before any render')
  t.same((await serversState(scene)).get('origin1'), { addr: '127.0.0.1', port: second.port, weight: 30 }, 'HAProxy runs the new port and weight')
  await scene.apply(scene.version(3, [scene.domain({ origins: [origin(second.port, 60)] })]))
  t.equal((await serversState(scene)).get('origin1')?.weight, 60, 'and the next weight')
  t.equal(await readFile(cfgPath, 'utf8'), written, 'haproxy.cfg not written during the burst')
  await waitFor('haproxy.cfg with the newest weight', async () => serverLine(second.port, 60).test(await readFile(cfgPath, 'utf8')) ? true : undefined, 5000)
  t.pass('written once the burst is over')

  // A move not yet written, then a change that needs the full way (a new timeout: reload).
  await scene.apply(scene.version(4, [scene.domain({ origins: [origin(second.port, 10)] })]))
  const full = await scene.apply(scene.version(5, [scene.domain({ origins: [origin(second.port, 10)], timeouts: { connectMs: 2500, serverMs: 0, clientMs: 0 } })]))
  t.match(full, { reloaded: true }, 'the timeout reloads HAProxy')
  const cfg = await readFile(cfgPath, 'utf8')
  t.match(cfg, serverLine(second.port, 10), 'haproxy.cfg has the weight the runtime API set')
  t.match(cfg, 'timeout connect 2500ms', 'and the new version')
  t.equal((await serversState(scene)).get('origin1')?.weight, 10, 'HAProxy runs weight 10 after the reload')
  t.equal((await scene.haproxy.status())?.reloads, (before?.reloads ?? 0) + 1, 'one reload for the five versions after the start')
})

t.test('the quiet time before writing origin moves grows with the account: 1 s per 1 000 domains', async t => {
  t.equal(persistDelayFor(0), PERSIST_DELAY_MS)
  t.equal(persistDelayFor(1000), PERSIST_DELAY_MS)
  t.equal(persistDelayFor(1001), 2 * PERSIST_DELAY_MS)
  t.equal(persistDelayFor(10_000), 10 * PERSIST_DELAY_MS)
})
