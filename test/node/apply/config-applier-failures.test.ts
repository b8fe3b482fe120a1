// Failures of the apply path against a real HAProxy: a rendered config that `haproxy -c`
// refuses, and one that passes the check but cannot be loaded (its port is taken). Each
// test proves the failure happened (onFailed with the code and HAProxy's message, a
// recorded reload) before it asserts the recovery: last-known-good files and config back
// on disk, the old worker still serving, and the next good version applied — or the same
// version retried after a backoff once the cause is gone (never a config haproxy -c refused).
import { mkdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { renderHaproxyConfig, type RenderedConfig, type RenderInput } from '../../../node/render/render.ts'
import { freePort, waitFor } from '../../../scripts/fleet/local-fleet.ts'
import { startScene } from './scene.ts'

/** A renderer that appends `extra` to the config while `extra` is set. */
function faultyRenderer (): { render: (input: RenderInput) => RenderedConfig, inject: (extra: string | undefined) => void } {
  let extra: string | undefined
  return {
    inject: (value) => { extra = value },
    render: (input) => {
      const rendered = renderHaproxyConfig(input)
      return extra === undefined ? rendered : { ...rendered, haproxyCfg: `${rendered.haproxyCfg}${extra}`, hash: `${rendered.hash}-faulty` }
    }
  }
}

t.test('a config refused by haproxy -c is reported with HAProxy\'s message while the previous config keeps serving', async t => {
  const faulty = faultyRenderer()
  const scene = await startScene(t, { render: faulty.render })
  await scene.apply(scene.version(1, [scene.domain()]))
  const cfgGood = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')
  const mapGood = await readFile(join(scene.dir, 'maps/hosts.map'), 'utf8')
  const status = await scene.haproxy.status()

  faulty.inject('backend broken\n    no-such-keyword here\n')
  const result = await scene.apply(scene.version(2, [scene.domain({ aliases: ['www.shop.example.com'], waf: { ipBlacklist: ['127.0.0.9'], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 } })]))
  t.equal(result, undefined, 'the version was not applied')
  t.equal(scene.failures.length, 1, 'onFailed was called')
  t.equal(scene.failures[0]?.version, 2)
  t.equal(scene.failures[0]?.err.code, 'HAPROXY_INVALID_CONFIG')
  t.match(scene.failures[0]?.err.message, /no-such-keyword/, 'the error carries HAProxy\'s message')
  t.match(scene.applier.lastFailure, { version: 2 }, 'the last failure is kept for reporting')
  t.match(scene.applier.reloads.at(-1), { version: 2, result: 'invalid-config' }, 'the refused attempt is recorded')

  t.equal(await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8'), cfgGood, 'haproxy.cfg is the last-known-good one')
  t.equal(await readFile(join(scene.dir, 'maps/hosts.map'), 'utf8'), mapGood, 'the host map is restored')
  t.equal(await readFile(join(scene.dir, 'maps/blacklist.map'), 'utf8'), '', 'the blacklist map is restored')
  t.same((await scene.haproxy.status())?.workerPids, status?.workerPids, 'the same worker serves')
  t.equal((await scene.get('/still')).status, 200, 'the previous config keeps serving')

  faulty.inject(undefined)
  const next = await scene.apply(scene.version(3, [scene.domain({ aliases: ['www.shop.example.com'] })]))
  t.ok(next !== undefined, 'the next good version applies')
  t.equal(scene.applier.lastFailure, undefined, 'and clears the failure')
  t.equal((await scene.get('/', { host: 'www.shop.example.com' })).status, 200)
})

t.test('a reload that fails restores the last-known-good config and files and reports HAProxy\'s message', async t => {
  const faulty = faultyRenderer()
  const scene = await startScene(t, { render: faulty.render })
  await scene.apply(scene.version(1, [scene.domain({ errorPages: [{ status: 503, html: 'v1 page\n' }] })]))
  const cfgGood = await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8')
  const before = await scene.haproxy.status()

  // `haproxy -c` does not bind, so a taken port passes the check and fails the reload.
  const blocker = createServer()
  const takenPort = await freePort()
  await new Promise<void>(resolve => blocker.listen(takenPort, '127.0.0.1', resolve))
  t.teardown(() => { blocker.close() })
  faulty.inject(`listen clash\n    bind 127.0.0.1:${takenPort}\n    http-request return status 200\n`)
  const result = await scene.apply(scene.version(2, [scene.domain({ errorPages: [{ status: 503, html: 'v2 page\n' }] })]))
  t.equal(result, undefined, 'the version was not applied')
  t.equal(scene.failures[0]?.err.code, 'HAPROXY_RELOAD_FAILED')
  t.match(scene.failures[0]?.err.message, /cannot bind|Address already in use|Starting proxy clash/i, 'the error carries HAProxy\'s alert')
  t.comment(`reported: ${scene.failures[0]?.err.message.slice(0, 300)}`)
  const after = await scene.haproxy.status()
  t.equal(after?.failedReloads, (before?.failedReloads ?? 0) + 1, 'the master counted a failed reload')
  t.match(scene.applier.reloads.at(-1), { version: 2, result: 'failed' }, 'the failed reload is recorded')

  t.equal(await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8'), cfgGood, 'haproxy.cfg is the last-known-good one')
  t.equal(await readFile(join(scene.dir, 'errors/dom_shop-503.html'), 'utf8'), 'v1 page\n', 'the error page file is restored')
  t.equal((await scene.get('/still')).status, 200, 'the old worker keeps serving')

  faulty.inject(undefined)
  const next = await scene.apply(scene.version(3, [scene.domain({ errorPages: [{ status: 503, html: 'v3 page\n' }] })]))
  t.equal(next?.reloaded, true, 'the next good version reloads')
  t.comment(`apply with reload after a failed one: ${next?.durationMs.toFixed(0)} ms`)
  t.equal((await scene.get('/again')).status, 200)
})

t.test('a version whose reload failed is retried after a backoff and applies once the cause is gone', async t => {
  const faulty = faultyRenderer()
  const scene = await startScene(t, { render: faulty.render, retryDelaysMs: [300, 300] })
  await scene.apply(scene.version(1, [scene.domain()]))
  const blocker = createServer()
  const takenPort = await freePort()
  await new Promise<void>(resolve => blocker.listen(takenPort, '127.0.0.1', resolve))
  faulty.inject(`listen clash\n    bind 127.0.0.1:${takenPort}\n    http-request return status 200\n`)
  const result = await scene.apply(scene.version(2, [scene.domain({ aliases: ['www.shop.example.com'] })]))
  t.equal(result, undefined, 'the version was not applied')
  t.equal(scene.failures[0]?.err.code, 'HAPROXY_RELOAD_FAILED', 'the reload failed: the port is taken')

  await new Promise(resolve => blocker.close(resolve))
  await waitFor('the retried version to apply', async () => scene.applied.find(r => r.version === 2), 10_000)
  t.pass('version 2 applied without a newer version')
  t.same(scene.applier.reloads.filter(r => r.version === 2).map(r => r.result).slice(-1), ['ok'], 'its last reload succeeded')
  t.ok(scene.applier.reloads.filter(r => r.version === 2).length <= 3, 'retries are bounded')
  t.equal(scene.applier.lastFailure, undefined)
  t.equal((await scene.get('/', { host: 'www.shop.example.com' })).status, 200, 'the retried version serves')
})

t.test('a config refused by haproxy -c is not retried', async t => {
  const faulty = faultyRenderer()
  const scene = await startScene(t, { render: faulty.render, retryDelaysMs: [100] })
  await scene.apply(scene.version(1, [scene.domain()]))
  faulty.inject('backend broken\n    no-such-keyword here\n')
  await scene.apply(scene.version(2, [scene.domain({ aliases: ['www.shop.example.com'] })]))
  t.equal(scene.failures[0]?.err.code, 'HAPROXY_INVALID_CONFIG')
  await new Promise(resolve => setTimeout(resolve, 600))
  t.equal(scene.failures.length, 1, 'no second attempt')
  t.equal(scene.applier.reloads.filter(r => r.version === 2).length, 1, 'one recorded attempt')
})

t.test('a runtime-API change whose files cannot be written is logged, and the next version reads the disk again and converges', async t => {
  const blacklistMap = (dir: string): string => join(dir, 'maps/blacklist.map')
  let scene: Awaited<ReturnType<typeof startScene>> | undefined
  // Right after version 2 went live, its blacklist map path becomes a directory: the write that follows fails.
  scene = await startScene(t, {
    onApplied: async (result) => {
      scene?.applied.push(result)
      if (result.version === 2 && scene !== undefined) {
        await rm(blacklistMap(scene.dir), { force: true })
        await mkdir(blacklistMap(scene.dir))
      }
    }
  })
  const blacklisted = (ip: string): ReturnType<typeof scene.domain> => scene!.domain({ waf: { ipBlacklist: [ip], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 } })
  await scene.apply(scene.version(1, [blacklisted('127.0.0.9')]))
  const two = await scene.apply(scene.version(2, [blacklisted('127.0.0.3')]))
  t.match(two, { reloaded: false, runtime: true }, 'version 2 went live through the runtime API')
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 403, 'and HAProxy enforces it')
  const log = await readFile(join(scene.dir, 'node.log'), 'utf8')
  t.match(log, /could not write the config HAProxy runs through the runtime API/, 'the failed write is logged with what to check')
  t.match(await readFile(join(scene.dir, 'haproxy.cfg'), 'utf8'), /# lumos-render-hash /, 'haproxy.cfg is still a whole config')

  await rm(blacklistMap(scene.dir), { recursive: true })
  const three = await scene.apply(scene.version(3, [blacklisted('127.0.0.4')]))
  t.ok(three !== undefined, 'version 3 applies')
  t.equal((await scene.get('/', { from: '127.0.0.4' })).status, 403, 'its entry is enforced')
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 200, 'the entry of version 2 is gone')
  t.match(await readFile(blacklistMap(scene.dir), 'utf8'), /^127\.0\.0\.4 /, 'the blacklist map on disk is version 3\'s')
  t.equal(scene.failures.length, 0, 'no version failed')
})

t.test('a runtime-API change while HAProxy is down starts HAProxy with it', async t => {
  const scene = await startScene(t)
  const blacklisted = (ip: string): ReturnType<typeof scene.domain> => scene.domain({ waf: { ipBlacklist: [ip], rateLimitRequests: 0, rateLimitWindowS: 10, owasp: false, paranoia: 1 } })
  await scene.apply(scene.version(1, [blacklisted('127.0.0.9')]))
  await scene.haproxy.stop()
  t.equal(await scene.haproxy.status(), undefined, 'HAProxy is down')
  const two = await scene.apply(scene.version(2, [blacklisted('127.0.0.3')]))
  t.match(two, { reloaded: true, runtime: false }, 'version 2 is applied by starting HAProxy')
  t.equal(scene.applier.reloads.at(-1)?.reason, 'HAProxy not running: start', 'the reload says why')
  t.equal((await scene.get('/', { from: '127.0.0.3' })).status, 403, 'the new entry is enforced')
  t.equal((await scene.get('/', { from: '127.0.0.9' })).status, 200, 'the old one is gone')
})

t.test('a version that renders what is on disk starts HAProxy when it is down (a node restarted after HAProxy stopped)', async t => {
  const scene = await startScene(t)
  await scene.apply(scene.version(1, [scene.domain()]))
  await scene.haproxy.stop()
  const again = await scene.apply(scene.version(2, [scene.domain()]))
  t.match(again, { reloaded: true, runtime: false }, 'applied by starting HAProxy, not as an empty runtime-API change')
  t.equal(scene.applier.reloads.at(-1)?.reason, 'HAProxy not running: start')
  t.ok(await scene.haproxy.status() !== undefined, 'HAProxy runs')
  t.equal((await scene.get('/')).status, 200, 'and serves the domain')
})
