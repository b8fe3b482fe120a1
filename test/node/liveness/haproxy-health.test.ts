// The node's HAProxy health check: debounced (two failures in a row → unhealthy, one
// success → healthy), with an injected fetcher; and against a real `haproxy` whose
// frontend has the template's `monitor-uri`, healthy while it answers and unhealthy once
// it is gone, and not unhealthy because the node's own event loop stalled.
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { HaproxyHealth, HEALTH_URI, healthUrlOf, type HealthFetcher } from '../../../node/liveness/haproxy-health.ts'
import { freePort } from '../../../scripts/fleet/local-fleet.ts'

const logger = pino({ level: 'silent' })

/** A fetcher that answers from a script of results (true = 200, false = failure, Error = throws). */
function scripted (results: Array<boolean | Error>): HealthFetcher {
  return async () => {
    const next = results.shift()
    if (next === undefined) throw new Error('script exhausted')
    if (next instanceof Error) throw next
    return next
  }
}

t.test('one failed check is a blip; two in a row make HAProxy unhealthy; one success makes it healthy again', async t => {
  const changes: boolean[] = []
  const health = new HaproxyHealth({
    url: 'http://127.0.0.1:1/.lumos/health',
    logger,
    fetcher: scripted([true, false, true, false, new Error('connection refused'), false, true]),
    onChange: (healthy) => { changes.push(healthy) }
  })
  t.equal(health.healthy, true, 'presumed healthy before the first check')
  t.equal(await health.check(), true, 'answered')
  t.equal(await health.check(), true, 'one failure is not enough')
  t.equal(await health.check(), true, 'a success resets the count')
  t.equal(await health.check(), true, 'first failure of a new run')
  t.equal(await health.check(), false, 'the second failure in a row (a thrown error counts) makes it unhealthy')
  t.equal(await health.check(), false, 'stays unhealthy while it fails')
  t.equal(await health.check(), true, 'one success is enough to be healthy again')
  t.same(changes, [false, true], 'onChange heard each change once')
})

t.test('a check that outlives its timeout counts as failed', async t => {
  // Hangs for 10 s unless the check's signal aborts it first.
  const hanging: HealthFetcher = async (_url, signal) => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { resolve(true) }, 10_000)
    signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) })
  })
  const health = new HaproxyHealth({ url: 'http://127.0.0.1:1/.lumos/health', logger, fetcher: hanging, timeoutMs: 30 })
  const started = Date.now()
  await health.check()
  t.equal(await health.check(), false, 'two timed-out checks: unhealthy')
  t.ok(Date.now() - started < 1000, 'each check was bounded by its timeout')
})

t.test('the health URL targets the node\'s own HTTP bind, loopback for wildcard binds', async t => {
  t.equal(healthUrlOf(':80'), `http://127.0.0.1:80${HEALTH_URI}`)
  t.equal(healthUrlOf('0.0.0.0:8080'), `http://127.0.0.1:8080${HEALTH_URI}`)
  t.equal(healthUrlOf('127.0.0.1:8081'), `http://127.0.0.1:8081${HEALTH_URI}`)
  t.equal(healthUrlOf('[::]:80'), `http://[::1]:80${HEALTH_URI}`)
  t.equal(healthUrlOf('[2001:db8::1]:80'), `http://[2001:db8::1]:80${HEALTH_URI}`)
})

t.test('a real HAProxy with the template\'s monitor-uri is healthy while it runs and unhealthy once it is gone', async t => {
  const dir = t.testdir()
  const port = await freePort()
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, [
    'defaults',
    '    mode http',
    '    timeout connect 1s',
    '    timeout client 5s',
    '    timeout server 5s',
    'frontend shield_http',
    `    bind 127.0.0.1:${port}`,
    `    monitor-uri ${HEALTH_URI}`,
    '    http-request return status 404 content-type text/plain string "no site"',
    ''
  ].join('\n'))
  let haproxy: ChildProcess | undefined = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' })
  t.teardown(() => { haproxy?.kill('SIGKILL') })
  const health = new HaproxyHealth({ url: healthUrlOf(`127.0.0.1:${port}`), logger, timeoutMs: 500, intervalMs: 50 })
  const deadline = Date.now() + 5000
  let answered = false
  while (!answered && Date.now() < deadline) {
    answered = await fetch(`http://127.0.0.1:${port}${HEALTH_URI}`).then(r => r.status === 200, () => false)
    if (!answered) await new Promise(resolve => setTimeout(resolve, 50))
  }
  t.ok(answered, 'HAProxy answers 200 on the monitor URI itself')
  t.equal(await health.check(), true, 'healthy while HAProxy answers')
  const other = await fetch(`http://127.0.0.1:${port}/anything`).then(r => r.status)
  t.equal(other, 404, 'other paths still go through the frontend rules')

  // The node's own event loop blocked past the timeout (GC, a big config being rendered):
  // HAProxy answered meanwhile, and that is not a failure of HAProxy.
  const blocked = new HaproxyHealth({ url: healthUrlOf(`127.0.0.1:${port}`), logger, timeoutMs: 100 })
  for (let i = 1; i <= 2; i++) {
    const check = blocked.check()
    const until = performance.now() + 400
    while (performance.now() < until) { /* busy: the loop cannot run */ }
    t.equal(await check, true, `check ${i} with the event loop blocked 4× past its timeout: healthy`)
  }

  const exited = new Promise(resolve => haproxy?.once('exit', resolve))
  haproxy.kill('SIGKILL')
  await exited
  haproxy = undefined
  t.equal(await health.check(), true, 'one failed check after HAProxy died is not yet unhealthy')
  t.equal(await health.check(), false, 'the second one is')

  health.start()
  t.teardown(() => { health.stop() })
  t.equal(health.healthy, false, 'start() keeps the current result')
})
