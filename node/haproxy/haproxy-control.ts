// HaproxyControl: the one adapter that runs the real `haproxy` binary. It validates a
// config (`haproxy -c`), starts HAProxy in master-worker mode (daemon, master CLI socket),
// reloads it seamlessly through the master CLI (listeners are handed over through the
// admin socket's expose-fd) and confirms that a new worker replaced the old one.
import { execFile, spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { LumosError } from '../../proto/lumos-error.ts'

const execFileAsync = promisify(execFile)

export interface HaproxyPaths {
  binary: string
  configFile: string
  masterSocket: string
  pidFile: string
}

export interface MasterStatus {
  masterPid: number
  reloads: number
  failedReloads: number
  workerPids: number[]
}

/** Sends one command to a HAProxy CLI socket and returns the full answer. */
export async function cliCommand (socketPath: string, command: string, timeoutMs = 3000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let answer = ''
    const timer = setTimeout(() => { socket.destroy(new Error(`HAProxy CLI ${socketPath} did not answer "${command}" within ${timeoutMs} ms`)) }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.end(`${command}\n`))
    socket.on('data', (chunk: string) => { answer += chunk })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); resolve(answer) })
  })
}

export function parseShowProc (output: string): MasterStatus {
  let section = ''
  const status: MasterStatus = { masterPid: 0, reloads: 0, failedReloads: 0, workerPids: [] }
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
    }
  }
  return status
}

export class HaproxyControl {
  readonly paths: HaproxyPaths

  constructor (paths: HaproxyPaths) {
    this.paths = paths
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

  /** Status from the master CLI, or undefined when no master answers. */
  async status (): Promise<MasterStatus | undefined> {
    try {
      const status = parseShowProc(await cliCommand(this.paths.masterSocket, 'show proc'))
      return status.masterPid > 0 ? status : undefined
    } catch {
      return undefined
    }
  }

  async start (): Promise<MasterStatus> {
    const args = ['-W', '-D', '-S', `${this.paths.masterSocket},mode,600`, '-p', this.paths.pidFile, '-f', this.paths.configFile]
    const child = spawn(this.paths.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
    if (code !== 0) throw new LumosError('HAPROXY_START_FAILED', `haproxy exited with ${code}: ${stderr.trim().slice(0, 2000)}`)
    return await this.waitForWorker(new Set(), 0)
  }

  /** Seamless reload; resolves once a new worker serves, throws HAPROXY_RELOAD_FAILED otherwise. */
  async reload (): Promise<MasterStatus> {
    const before = await this.status()
    if (before === undefined) return await this.start()
    await cliCommand(this.paths.masterSocket, 'reload')
    return await this.waitForWorker(new Set(before.workerPids), before.failedReloads)
  }

  private async waitForWorker (oldWorkers: Set<number>, failedBefore: number, timeoutMs = 10_000): Promise<MasterStatus> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const status = await this.status()
      if (status !== undefined) {
        if (status.failedReloads > failedBefore) throw new LumosError('HAPROXY_RELOAD_FAILED', 'HAProxy master reported a failed reload; the previous workers keep serving')
        if (status.workerPids.some(pid => !oldWorkers.has(pid))) return status
      }
      await new Promise(resolve => setTimeout(resolve, 25))
    }
    throw new LumosError('HAPROXY_RELOAD_FAILED', `no new HAProxy worker within ${timeoutMs} ms; check the HAProxy log`)
  }

  /** Stops the master and its workers (used by tests, the demo and uninstall). */
  async stop (): Promise<void> {
    const pid = Number((await readFile(this.paths.pidFile, 'utf8').catch(() => '')).trim().split('\n')[0])
    if (!Number.isInteger(pid) || pid <= 0) return
    try { process.kill(pid, 'SIGTERM') } catch { return }
    for (let i = 0; i < 200; i++) {
      try { process.kill(pid, 0) } catch { return }
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  }
}
