// Follows pino JSON log files and records, per message text, when each version was first
// logged (the log's own `time`, all processes share this machine's clock).
import { open, type FileHandle } from 'node:fs/promises'

export class LogWatch {
  private readonly files = new Map<string, { handle: FileHandle | undefined, offset: number, rest: string }>()
  /** message → version → file → time (ms) */
  readonly seen = new Map<string, Map<number, Map<string, number>>>()
  private readonly messages: Set<string>

  constructor (paths: string[], messages: string[]) {
    for (const path of paths) this.files.set(path, { handle: undefined, offset: 0, rest: '' })
    this.messages = new Set(messages)
  }

  async poll (): Promise<void> {
    for (const [path, state] of this.files) {
      state.handle ??= await open(path, 'r').catch(() => undefined)
      if (state.handle === undefined) continue
      const buffer = Buffer.alloc(1 << 20)
      for (;;) {
        const { bytesRead } = await state.handle.read(buffer, 0, buffer.length, state.offset)
        if (bytesRead === 0) break
        state.offset += bytesRead
        const lines = (state.rest + buffer.subarray(0, bytesRead).toString('utf8')).split('\n')
        state.rest = lines.pop() ?? ''
        for (const line of lines) this.record(path, line)
      }
    }
  }

  private record (path: string, line: string): void {
    if (!line.startsWith('{')) return
    let entry: { msg?: string, version?: number, time?: number }
    try { entry = JSON.parse(line) } catch { return }
    if (entry.msg === undefined || !this.messages.has(entry.msg) || typeof entry.version !== 'number' || typeof entry.time !== 'number') return
    const byVersion = this.seen.get(entry.msg) ?? new Map<number, Map<string, number>>()
    this.seen.set(entry.msg, byVersion)
    const byFile = byVersion.get(entry.version) ?? new Map<string, number>()
    byVersion.set(entry.version, byFile)
    if (!byFile.has(path)) byFile.set(path, entry.time)
  }

  /** Times at which each file logged `msg` for `version` or later, once all files did. */
  async waitAll (msg: string, version: number, timeoutMs: number): Promise<number[]> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      await this.poll()
      const times = [...this.files.keys()].map(path => this.firstAtLeast(msg, version, path))
      if (times.every(t => t !== undefined)) return times as number[]
      await new Promise(resolve => setTimeout(resolve, 10))
    }
    const missing = [...this.files.keys()].filter(path => this.firstAtLeast(msg, version, path) === undefined)
    throw new Error(`not every log showed "${msg}" for version ${version} within ${timeoutMs} ms; missing: ${missing.map(path => `${path} (last: ${this.lastVersion(msg, path) ?? 'none'})`).join(', ')}`)
  }

  /** The newest version `path` logged `msg` for. */
  lastVersion (msg: string, path: string): number | undefined {
    let last: number | undefined
    for (const [v, byFile] of this.seen.get(msg) ?? []) if (byFile.has(path) && (last === undefined || v > last)) last = v
    return last
  }

  /** How many files logged `msg` for exactly `version`. */
  count (msg: string, version: number): number {
    return this.seen.get(msg)?.get(version)?.size ?? 0
  }

  private firstAtLeast (msg: string, version: number, path: string): number | undefined {
    let best: number | undefined
    for (const [v, byFile] of this.seen.get(msg) ?? []) {
      const time = v >= version ? byFile.get(path) : undefined
      if (time !== undefined && (best === undefined || time < best)) best = time
    }
    return best
  }

  async close (): Promise<void> {
    for (const state of this.files.values()) await state.handle?.close()
  }
}
