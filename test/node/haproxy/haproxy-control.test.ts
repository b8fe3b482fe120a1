// HaproxyControl against the real haproxy binary: config check, start in master-worker
// mode, a seamless reload through the master CLI, runtime API commands on the admin
// socket, and HAProxy's own message on a failed start. parseShowProc on a recorded answer.
import { spawn } from 'node:child_process'
import { renameSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { cliCommand, HaproxyControl, parseShowProc } from '../../../node/haproxy/haproxy-control.ts'
import { freePort } from '../../../scripts/fleet/local-fleet.ts'

const SHOW_PROC = '#<PID>          <type>          <reloads>       <uptime>        <version>\n' +
  '2992            master          1 [failed: 0]   0d00h00m03s     2.6.12\n' +
  '# workers\n' +
  '3084            worker          0               0d00h00m01s     2.6.12\n' +
  '# old workers\n' +
  '2993            worker          1               0d00h00m05s     2.6.12\n' +
  '# programs\n'

/**
 * A control whose files live in a short test dir (HAProxy limits unix socket paths to 97
 * bytes). Its HAProxy is stopped at teardown, registered before the testdir so it runs
 * while the pid file still exists.
 */
function controlIn (t: Test, name: string): { dir: string, haproxy: HaproxyControl } {
  t.testdirName = join(tmpdir(), `lumos-haproxy-${process.pid}-${name}`)
  const dir = t.testdirName
  const haproxy = new HaproxyControl({ binary: '/usr/sbin/haproxy', configFile: join(dir, 'haproxy.cfg'), masterSocket: join(dir, 'master.sock'), pidFile: join(dir, 'haproxy.pid') })
  t.teardown(async () => { await haproxy.stop() })
  t.testdir()
  return { dir, haproxy }
}

function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function validConfig (dir: string, port: number): string {
  return [
    'global',
    `    stats socket ${dir}/admin.sock mode 600 level admin expose-fd listeners`,
    'defaults',
    '    mode http',
    '    timeout connect 1s',
    '    timeout client 5s',
    '    timeout server 5s',
    'frontend shield_http',
    `    bind 127.0.0.1:${port}`,
    '    http-request return status 200 content-type text/plain string ok',
    ''
  ].join('\n')
}

t.test('parseShowProc reads the master pid, reload counters, current and old workers apart', async t => {
  t.same(parseShowProc(SHOW_PROC), { masterPid: 2992, reloads: 1, failedReloads: 0, workerPids: [3084], oldWorkerPids: [2993] })
})

t.test('parseShowProc counts failed reloads reported by the master', async t => {
  t.equal(parseShowProc(SHOW_PROC.replace('1 [failed: 0]', '4 [failed: 2]')).failedReloads, 2)
})

t.test('check rejects a broken config with HAPROXY_INVALID_CONFIG and the message of HAProxy', async t => {
  const { dir, haproxy } = controlIn(t, 'check')
  const file = join(dir, 'broken.cfg')
  writeFileSync(file, 'defaults\n    mode http\nfrontend f\n    bind 127.0.0.1:1\n    no-such-keyword here\n')
  await t.rejects(haproxy.check(file), { code: 'HAPROXY_INVALID_CONFIG', message: /no-such-keyword/ })
})

t.test('check accepts a valid config', async t => {
  const { dir, haproxy } = controlIn(t, 'check-ok')
  writeFileSync(haproxy.paths.configFile, validConfig(dir, await freePort()))
  await t.resolves(haproxy.check(haproxy.paths.configFile))
})

t.test('reload after start replaces the worker under the same master', async t => {
  const { dir, haproxy } = controlIn(t, 'reload')
  writeFileSync(haproxy.paths.configFile, validConfig(dir, await freePort()))
  const started = await haproxy.start()
  t.equal(started.workerPids.length, 1)
  const reloaded = await haproxy.reload()
  t.equal(reloaded.masterPid, started.masterPid)
  t.equal(reloaded.workerPids.length, 1)
  t.notOk(reloaded.workerPids.some(pid => started.workerPids.includes(pid)), 'the worker pid is new')
})

t.test('stop ends the master and its worker', async t => {
  const { dir, haproxy } = controlIn(t, 'stop')
  writeFileSync(haproxy.paths.configFile, validConfig(dir, await freePort()))
  const started = await haproxy.start()
  t.ok(isRunning(started.masterPid), 'the master runs before stop')
  await haproxy.stop()
  t.notOk(isRunning(started.masterPid), 'the master is gone')
  t.notOk(started.workerPids.some(isRunning), 'the worker is gone')
})

t.test('runtime commands change an ACL without a reload; a refused one is HAPROXY_RUNTIME_FAILED with HAProxy\'s answer', async t => {
  const { dir, haproxy } = controlIn(t, 'runtime')
  writeFileSync(join(dir, 'bl.acl'), '')
  writeFileSync(haproxy.paths.configFile, validConfig(dir, await freePort()).replace('string ok', `string ok if !{ src -f ${dir}/bl.acl }`))
  const started = await haproxy.start()
  await haproxy.runtime([`add acl ${dir}/bl.acl 10.0.0.0/8`, `add acl ${dir}/bl.acl 203.0.113.7`, `del acl ${dir}/bl.acl 10.0.0.0/8`])
  t.match(await cliCommand(haproxy.adminSocket, `show acl ${dir}/bl.acl`), /203\.0\.113\.7/)
  t.equal((await haproxy.status())?.reloads, started.reloads, 'no reload')
  await t.rejects(haproxy.runtime([`del acl ${dir}/bl.acl 192.0.2.1`]), { code: 'HAPROXY_RUNTIME_FAILED', message: /not found/i })
})

t.test('a start that fails is HAPROXY_START_FAILED with HAProxy\'s alert', async t => {
  const { dir, haproxy } = controlIn(t, 'start-fail')
  const blocker = createServer()
  const port = await freePort()
  await new Promise<void>(resolve => blocker.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { blocker.close() })
  writeFileSync(haproxy.paths.configFile, validConfig(dir, port))
  await t.rejects(haproxy.start(), { code: 'HAPROXY_START_FAILED', message: /cannot bind/ })
})

t.test('status waits out a live master whose CLI socket is gone for a moment (re-exec during a reload)', async t => {
  const { dir, haproxy } = controlIn(t, 'reexec')
  writeFileSync(haproxy.paths.configFile, validConfig(dir, await freePort()))
  const started = await haproxy.start()
  const away = `${haproxy.paths.masterSocket}.away`
  renameSync(haproxy.paths.masterSocket, away)
  const asked = haproxy.status()
  await new Promise(resolve => setTimeout(resolve, 300))
  renameSync(away, haproxy.paths.masterSocket)
  t.equal((await asked)?.masterPid, started.masterPid, 'the running master, not "no master" (which would start a second one)')
})

t.test('a stale pid file naming another process: status is undefined at once, stop leaves that process alone', async t => {
  const { haproxy } = controlIn(t, 'stale-pid')
  const other = spawn('sleep', ['30'])
  t.teardown(() => { other.kill() })
  writeFileSync(haproxy.paths.pidFile, `${other.pid}\n`)
  const asked = performance.now()
  t.equal(await haproxy.status(), undefined)
  t.ok(performance.now() - asked < 2000, 'no wait for a re-exec that cannot happen')
  await haproxy.stop()
  t.ok(isRunning(other.pid ?? 0), 'the process named by the stale pid file still runs')
})
