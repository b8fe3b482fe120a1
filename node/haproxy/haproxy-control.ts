// HaproxyControl: the one adapter that runs the real `haproxy` binary. It validates a
// config (`haproxy -c`), starts HAProxy in master-worker mode (daemon, master CLI socket),
// reloads it seamlessly through the master CLI (the master re-executes itself with
// `-x sockpair@<fd>`: the new worker takes the listening sockets over from the old one) and
// confirms that a new worker replaced the old one. How old workers drain is config, not
// code: docs/decisions/008-reload-drain.md. Runtime API changes (maps, ACLs) go to the
// admin socket through node/haproxy/runtime-api.ts.
import { execFile, spawn } from 'node:child_process'
import { open, readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { isLumosError, LumosError } from '../../proto/lumos-error.ts'
import { cliCommand } from './cli-socket.ts'
import { runRuntimeCommands } from './runtime-api.ts'

export { cliCommand } from './cli-socket.ts'

const execFileAsync = promisify(execFile)
/** How long a live master may be without its CLI socket (re-executing for a reload) before it counts as gone. */
const MASTER_REEXEC_WAIT_MS = 10_000

export interface HaproxyPaths {
  binary: string
  configFile: string
  masterSocket: string
  pidFile: string
  /** The config's `stats socket … level admin`; <dir of configFile>/admin.sock by default. */
  adminSocket?: string
  /** Where the master's stderr (alerts, failed reloads) goes; <dir of configFile>/haproxy.log by default. */
  logFile?: string
}

export interface MasterStatus {
  masterPid: number
  reloads: number
  failedReloads: number
  workerPids: number[]
  /**
   * Workers of earlier configs still draining their connections after a reload. They
   * exit when their last connection closes, at `hard-stop-after`, or once they have
   * outlived `mworker-max-reloads` reloads (see haproxy-templates/haproxy.cfg.tpl).
   */
  oldWorkerPids: number[]
}

export function parseShowProc (output: string): MasterStatus {
  let section = ''
  const status: MasterStatus = { masterPid: 0, reloads: 0, failedReloads: 0, workerPids: [], oldWorkerPids: [] }
  for (const line of output.split('\n')) {
    if (line.startsWith('# ')) { section = line.slice(2).trim(); continue }
    const fields = line.trim().split(/\s+/)
    if (fields[1] === 'master') {
      status.masterPid = Number(fields[0])
      status.reloads = Number(fields[2])
      const failed = /\[failed: (\d+)\]/.exec(line)
      status.failedReloads = failed === null ? 0 : Number(failed[1])
    } else if (fields[1] === 'worker' && section === 'workers') {
      status.workerPids.push(Number(fields[0]))
    } else if (fields[1] === 'worker' && section === 'old workers') {
      status.oldWorkerPids.push(Number(fields[0]))
    }
  }
  return status
}

export class HaproxyControl {
  readonly paths: HaproxyPaths

  constructor (paths: HaproxyPaths) {
    this.paths = paths
  }

  get adminSocket (): string { return this.paths.adminSocket ?? join(dirname(this.paths.configFile), 'admin.sock') }
  get logFile (): string { return this.paths.logFile ?? join(dirname(this.paths.configFile), 'haproxy.log') }

  /** HAProxy's alerts written to its log since `offset` (bytes): the reason of a failed start or reload. */
  private async alertsSince (offset: number): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').then(all => all.slice(offset), () => '')
    const alerts = text.split('\n').filter(line => line.includes('[ALERT]')).map(line => line.replace(/^\[(\w+)\]\s+\(\d+\) : /, '[$1] '))
    return alerts.join('\n').slice(0, 2000)
  }

  private async logSize (): Promise<number> {
    return await stat(this.logFile).then(info => info.size, () => 0)
  }

  /** Runs runtime API commands (add/del/set map, add/del acl); throws HAPROXY_RUNTIME_FAILED with HAProxy's answer. */
  async runtime (commands: readonly string[]): Promise<void> {
    await runRuntimeCommands(this.adminSocket, commands)
  }

  /** Runs `haproxy -c` on a config file; throws HAPROXY_INVALID_CONFIG with HAProxy's message. */
  async check (configFile: string): Promise<void> {
    try {
      await execFileAsync(this.paths.binary, ['-c', '-f', configFile], { timeout: 60_000 })
    } catch (err) {
      const output = `${(err as { stderr?: string }).stderr ?? ''}${(err as { stdout?: string }).stdout ?? ''}`.trim()
      throw new LumosError('HAPROXY_INVALID_CONFIG', `haproxy -c rejected the rendered config: ${output.slice(0, 2000) || (err as Error).message}`, { cause: err })
    }
  }

  /**
   * Status from the master CLI, or undefined when no master runs (no socket, or nobody
   * listening on it and no live master process). A master that is slow to answer (a loaded
   * machine, a reload of a large config) is still running: it is asked again with a longer
   * wait, then HAPROXY_UNRESPONSIVE — never "not running", which would start a second master.
   */
  async status (): Promise<MasterStatus | undefined> {
    const reexecDeadline = Date.now() + MASTER_REEXEC_WAIT_MS
    let unanswered = 0
    for (;;) {
      try {
        const status = parseShowProc(await cliCommand(this.paths.masterSocket, 'show proc', unanswered === 0 ? 3000 : 15_000))
        return status.masterPid > 0 ? status : undefined
      } catch (err) {
        if (isNotListening(err)) {
          // A master re-executing itself for a reload has no socket for a moment; its pid lives on.
          if (Date.now() >= reexecDeadline || await this.livingMasterPid() === undefined) return undefined
          await new Promise(resolve => setTimeout(resolve, 50))
        } else if (++unanswered === 2) {
          throw new LumosError('HAPROXY_UNRESPONSIVE', `the HAProxy master socket ${this.paths.masterSocket} accepts connections but did not answer "show proc"`)
        }
      }
    }
  }

  /** The master's pid from the pid file when it names a live (not zombie) haproxy process: a stale file names nobody. */
  private async livingMasterPid (): Promise<number | undefined> {
    const pid = Number((await readFile(this.paths.pidFile, 'utf8').catch(() => '')).trim().split('\n')[0])
    if (!Number.isInteger(pid) || pid <= 0) return undefined
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    const fields = /^\d+ \((.*)\) (\S)/.exec(stat)
    return fields !== null && fields[1] === 'haproxy' && fields[2] !== 'Z' ? pid : undefined
  }

  /**
   * Starts the master detached from this process (it outlives the daemon). Not `-D`: a
   * daemonized master points its stderr at /dev/null, and its stderr is where the reason
   * of a failed reload appears; so it runs as a detached foreground master (like `-Ws`
   * under systemd) with stderr appended to the log file.
   */
  async start (): Promise<MasterStatus> {
    const args = ['-W', '-S', `${this.paths.masterSocket},mode,600`, '-p', this.paths.pidFile, '-f', this.paths.configFile]
    const offset = await this.logSize()
    const log = await open(this.logFile, 'a', 0o640)
    let exited: Promise<number | null>
    try {
      const child = spawn(this.paths.binary, args, { stdio: ['ignore', 'ignore', log.fd], detached: true })
      exited = new Promise(resolve => child.on('exit', resolve))
      child.unref()
    } finally {
      await log.close()
    }
    const failed = exited.then(async code => {
      throw new LumosError('HAPROXY_START_FAILED', `haproxy exited with ${code}: ${await this.alertsSince(offset) || `see ${this.logFile}`}`)
    })
    // Once the start is confirmed, a later exit (stop) is no start failure.
    failed.catch(() => undefined)
    return await Promise.race([this.waitForWorker(new Set(), 0, offset), failed])
  }

  /** Seamless reload; resolves once a new worker serves, throws HAPROXY_RELOAD_FAILED otherwise. */
  async reload (): Promise<MasterStatus> {
    const before = await this.status()
    if (before === undefined) return await this.start()
    const offset = await this.logSize()
    // The master re-executes itself on `reload` and may drop the connection: confirmation is `show proc`.
    await cliCommand(this.paths.masterSocket, 'reload').catch(() => '')
    return await this.waitForWorker(new Set(before.workerPids), before.failedReloads, offset)
  }

  private async waitForWorker (oldWorkers: Set<number>, failedBefore: number, logOffset: number, timeoutMs = 30_000): Promise<MasterStatus> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const status = await this.status().catch((err: unknown) => { if (isLumosError(err) && err.code === 'HAPROXY_UNRESPONSIVE') return undefined; throw err })
      if (status !== undefined) {
        if (status.failedReloads > failedBefore) {
          throw new LumosError('HAPROXY_RELOAD_FAILED', `HAProxy master reported a failed reload; the previous workers keep serving: ${await this.alertsSince(logOffset) || 'no alert in the HAProxy log'}`)
        }
        if (status.workerPids.some(pid => !oldWorkers.has(pid))) return status
      }
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    throw new LumosError('HAPROXY_RELOAD_FAILED', `no new HAProxy worker within ${timeoutMs} ms: ${await this.alertsSince(logOffset) || `check ${this.logFile}`}`)
  }

  /** Stops the master and its workers (used by tests, the demo and uninstall). */
  async stop (): Promise<void> {
    const pid = await this.livingMasterPid()
    if (pid === undefined) return
    try { process.kill(pid, 'SIGTERM') } catch { return }
    for (let i = 0; i < 200; i++) {
      try { process.kill(pid, 0) } catch { return }
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  }
}

/** The socket file is missing or nobody listens on it: no master is running. */
function isNotListening (err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ECONNREFUSED'
}
