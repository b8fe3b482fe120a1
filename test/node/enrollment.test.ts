// loadOrEnroll (node/enrollment.ts) against a local HTTP server standing in for the
// coordinator's POST /v1/enroll: a node started before its coordinator keeps asking (with
// backoff) until it answers, also through 5xx answers; a refusal ends the start at once;
// the saved enrollment is used without asking again.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino, type Logger } from 'pino'
import t, { type Test } from 'tap'
import { loadOrEnroll } from '../../node/enrollment.ts'
import { freePort } from '../../scripts/fleet/local-fleet.ts'

const ENROLLMENT = { serverId: 'srv_1', accountId: 'acc_1', coordinatorPublicKey: 'key', coordinatorPeerId: 'peer', bootstrap: ['/ip4/127.0.0.1/tcp/1'], configTopic: 'lumos/acc_1/config/1' }
const RETRY = { baseMs: 50, maxMs: 200 }

function captured (): { logger: Logger, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const sink = new Writable({ write (chunk: Buffer, _e, done) { for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  return { logger: pino({ level: 'info' }, sink), lines }
}

/** A coordinator on `port` whose answers are `statuses` in turn (then 200 with ENROLLMENT); records the tokens it was sent. */
async function coordinator (t: Test, port: number, statuses: number[] = []): Promise<{ server: Server, tokens: string[] }> {
  const tokens: string[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => { body += chunk.toString() })
    request.on('end', () => {
      tokens.push((JSON.parse(body) as { token: string }).token)
      const status = statuses.shift() ?? 200
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(status === 200 ? ENROLLMENT : { code: status === 403 ? 'INVALID_TOKEN' : 'UNAVAILABLE', message: 'no' }))
    })
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  return { server, tokens }
}

t.test('a node started before its coordinator enrolls once the coordinator answers', async t => {
  const dir = t.testdir()
  const port = await freePort()
  const { logger, lines } = captured()
  const enrolled = loadOrEnroll({ path: join(dir, 'enrollment.json'), coordinatorUrl: `http://127.0.0.1:${port}`, token: 'tok', peerId: 'peer-a', multiaddrs: [], logger, retry: RETRY })
  // Nothing listens yet: wait for two failed attempts, then start the coordinator with one 503 first.
  const deadline = Date.now() + 10_000
  while (lines.filter(l => l.msg.startsWith('enrollment not done yet')).length < 2) {
    if (Date.now() > deadline) throw new Error('no retry logged within 10 s')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  const { tokens } = await coordinator(t, port, [503])
  t.same(await enrolled, ENROLLMENT, 'enrolled')
  t.same(tokens, ['tok', 'tok'], 'the 503 was retried')
  t.same(JSON.parse(await readFile(join(dir, 'enrollment.json'), 'utf8')), ENROLLMENT, 'the enrollment is saved')
  const retries = lines.filter(l => l.msg.startsWith('enrollment not done yet'))
  t.ok(retries.length >= 3 && retries.every(l => l.level === 40 && typeof l.retryInMs === 'number' && l.retryInMs <= RETRY.maxMs), 'each retry is logged with its delay, within the bound')
  t.notOk(JSON.stringify(lines).includes('tok"'), 'the token is not logged')

  // A restart uses the saved enrollment: no request.
  const again = await loadOrEnroll({ path: join(dir, 'enrollment.json'), coordinatorUrl: `http://127.0.0.1:${port}`, token: undefined, peerId: 'peer-a', multiaddrs: [], logger, retry: RETRY })
  t.same(again, ENROLLMENT)
  t.equal(tokens.length, 2, 'the coordinator was not asked again')
})

t.test('a refused token ends the start at once with ENROLL_FAILED', async t => {
  const port = await freePort()
  const { tokens } = await coordinator(t, port, [403])
  const { logger } = captured()
  await t.rejects(loadOrEnroll({ path: join(t.testdir(), 'enrollment.json'), coordinatorUrl: `http://127.0.0.1:${port}`, token: 'used', peerId: 'peer-b', multiaddrs: [], logger, retry: RETRY }), { code: 'ENROLL_FAILED' })
  t.equal(tokens.length, 1, 'not retried')
})
