// How old HAProxy workers drain after a reload, with the real template on a real HAProxy
// (docs/decisions/008-reload-drain.md): the reload settings are rendered and accepted by
// `haproxy -c`; an idle keep-alive connection survives the reload and is ended by
// "Connection: close" on its next response instead of being closed under the client (and,
// without the setting, it is closed: the test can tell); an old worker held by an
// unanswered request is stopped once it outlived mworker-max-reloads.
import { readFile } from 'node:fs/promises'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { freePort } from '../../../scripts/fleet/local-fleet.ts'
import { HOST, startScene } from '../apply/scene.ts'

const TEMPLATE_FILE = new URL('../../../haproxy-templates/haproxy.cfg.tpl', import.meta.url)

/** The lines between a section keyword and the next section. */
function section (cfg: string, name: string): string {
  return new RegExp(`^${name}\\n((?:[ \\t].*\\n|\\n)*)`, 'm').exec(cfg)?.[1] ?? ''
}

/** Polls `condition` every 50 ms; false if it still does not hold after `timeoutMs`. */
async function waitFor (condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return true
}

/** A raw HTTP/1.1 client connection, so the test sees exactly when HAProxy closes it. */
interface RawConnection {
  socket: Socket
  /** Sends one GET and resolves with the response head (lower-cased) once its body arrived. */
  get: (path: string) => Promise<string>
  /** Resolves when HAProxy closed the connection. */
  closed: Promise<void>
  isClosed: () => boolean
}

/** A response is complete when its Content-Length bytes or its last chunk arrived. */
function responseComplete (buffer: string): boolean {
  const end = buffer.indexOf('\r\n\r\n')
  if (end < 0) return false
  const head = buffer.slice(0, end)
  const length = /^content-length: *(\d+)/im.exec(head)?.[1]
  if (length !== undefined) return buffer.length >= end + 4 + Number(length)
  return /^transfer-encoding: *chunked/im.test(head) && buffer.endsWith('\r\n0\r\n\r\n')
}

async function rawConnection (port: number): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve).once('error', reject) })
  let closed = false
  let buffer = ''
  let waiter: (() => void) | undefined
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { buffer += chunk; waiter?.() })
  socket.on('error', () => undefined)
  const closedPromise = new Promise<void>(resolve => socket.on('close', () => { closed = true; waiter?.(); resolve() }))
  return {
    socket,
    closed: closedPromise,
    isClosed: () => closed,
    get: async (path) => {
      buffer = ''
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`no response to ${path} within 5 s`)) }, 5000)
        waiter = () => {
          if (responseComplete(buffer)) {
            clearTimeout(timer)
            resolve(buffer.slice(0, buffer.indexOf('\r\n\r\n')).toLowerCase())
          } else if (closed) {
            clearTimeout(timer)
            reject(new Error(`connection closed before a full response to ${path}`))
          }
        }
      })
    }
  }
}

t.test('the rendered config carries the reload settings and haproxy -c accepts it', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain()]))
  const cfg = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')
  t.match(section(cfg, 'global'), /^ {4}hard-stop-after 60s$/m, 'old workers stop at the latest 60 s after a reload')
  t.match(section(cfg, 'global'), /^ {4}mworker-max-reloads 10$/m, 'and once they outlived 10 reloads')
  t.match(section(cfg, 'defaults'), /^ {4}option idle-close-on-response$/m, 'idle connections get a last response with Connection: close')
  await t.resolves(scene.haproxy.check(scene.haproxy.paths.configFile), 'haproxy -c accepts it')
})

t.test('an idle keep-alive connection survives a reload and its next response closes it', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain()]))
  const client = await rawConnection(scene.httpPort)
  t.teardown(() => { client.socket.destroy() })
  t.notMatch(await client.get('/first'), /connection: close/, 'the first response keeps the connection alive')
  const before = await scene.haproxy.status()
  const after = await scene.haproxy.reload()
  t.same(after.oldWorkerPids, before?.workerPids, 'the old worker still drains the idle connection')
  await new Promise(resolve => setTimeout(resolve, 300))
  t.notOk(client.isClosed(), 'the old worker did not close the idle connection at reload')
  const last = await client.get('/second')
  t.match(last, /^http\/1\.1 200/, 'the request sent on it after the reload is answered')
  t.match(last, /connection: close/, 'with Connection: close, so the client reconnects to the new worker')
  await client.closed
  const old = new Set(before?.workerPids)
  t.ok(await waitFor(async () => !((await scene.haproxy.status())?.oldWorkerPids.some(pid => old.has(pid)) ?? true), 5000), 'the old worker exits with its last connection')
})

t.test('without idle-close-on-response the old worker closes an idle connection at reload (what the setting prevents)', async t => {
  const template = (await readFile(TEMPLATE_FILE, 'utf8')).replace(/^ {4}option idle-close-on-response\n/m, '')
  const scene = await startScene(t, { template })
  await scene.apply(scene.version(1, [scene.domain()]))
  const client = await rawConnection(scene.httpPort)
  t.teardown(() => { client.socket.destroy() })
  await client.get('/first')
  await scene.haproxy.reload()
  await Promise.race([client.closed, new Promise(resolve => setTimeout(resolve, 3000))])
  t.ok(client.isClosed(), 'HAProxy closed the idle connection: a client writing on it at that moment gets an error')
})

t.test('an old worker held by an unanswered request is stopped once it outlived mworker-max-reloads', async t => {
  // An origin that accepts and never answers: the request holds the first worker for the
  // server timeout (30 s), far longer than the reloads below take.
  const silent = createServer(socket => { socket.on('error', () => undefined) })
  const silentPort = await freePort()
  await new Promise<void>(resolve => silent.listen(silentPort, '127.0.0.1', resolve))
  t.teardown(() => { silent.close() })
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain({ origins: [{ address: '127.0.0.1', port: silentPort, weight: 100, tls: false }] })]))
  const first = (await scene.haproxy.status())?.workerPids[0] ?? 0
  const client = await rawConnection(scene.httpPort)
  t.teardown(() => { client.socket.destroy() })
  client.socket.write(`GET /hang HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`)
  await new Promise(resolve => setTimeout(resolve, 200))
  const started = Date.now()
  for (let i = 1; i <= 10; i++) await scene.haproxy.reload()
  t.ok((await scene.haproxy.status())?.oldWorkerPids.includes(first), 'after 10 reloads the first worker still drains its request')
  await scene.haproxy.reload()
  t.ok(await waitFor(async () => !((await scene.haproxy.status())?.oldWorkerPids.includes(first) ?? true), 5000), 'the 11th reload stops it')
  t.ok(Date.now() - started < 30_000, 'before the request could have timed out by itself')
  await Promise.race([client.closed, new Promise(resolve => setTimeout(resolve, 3000))])
  t.ok(client.isClosed(), 'its connection is gone with it')
})
