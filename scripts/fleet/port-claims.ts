// Claims of loopback ports across the processes of one machine (test files run side by side,
// each picking ports for the processes it starts). A port is checked free, then bound seconds
// later by the process started next: another test process could pick the same port in that
// window, and the second node to bind it exits with EADDRINUSE. A claim is a file created
// with O_EXCL under the temp dir, naming the claiming pid; a dead pid's claims are taken
// over, and a process removes its own when it exits.
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const PORT_CLAIMS_DIR = join(tmpdir(), 'lumos-port-claims')
/** A claim file still empty after this long was left by a process that died while writing it. */
const UNWRITTEN_STALE_MS = 10_000
const mine = new Set<number>()
let cleanupInstalled = false

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A claim whose process is gone, or that was never written and is old. */
function isStale (file: string): boolean {
  try {
    const owner = Number(readFileSync(file, 'utf8').trim())
    if (Number.isInteger(owner) && owner > 0) return !isAlive(owner)
    return Date.now() - statSync(file).mtimeMs > UNWRITTEN_STALE_MS
  } catch {
    return false // removed meanwhile by its owner: try another port
  }
}

/** True when this process now holds the claim on `port` (no live process had it). */
export function claimPort (port: number): boolean {
  if (mine.has(port)) return false
  mkdirSync(PORT_CLAIMS_DIR, { recursive: true })
  const file = join(PORT_CLAIMS_DIR, String(port))
  try {
    const fd = openSync(file, 'wx')
    try { writeSync(fd, String(process.pid)) } finally { closeSync(fd) }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    if (!isStale(file)) return false
    writeFileSync(file, String(process.pid))
  }
  mine.add(port)
  if (!cleanupInstalled) {
    cleanupInstalled = true
    process.on('exit', () => { for (const claimed of mine) try { unlinkSync(join(PORT_CLAIMS_DIR, String(claimed))) } catch {} })
  }
  return true
}
