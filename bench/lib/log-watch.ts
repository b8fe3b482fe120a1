// Follows pino JSON log files and records, per message text, when each version was first
// logged (the log's own `time`, all processes share this machine's clock).
// The watcher shares the machine with the fleet it measures, so it reads a file only when
// the kernel says it changed (fs.watch), into one reused buffer: polling 20 files every
// 10 ms with a fresh 1 MB buffer each took 40 % of a core away from the nodes.
import { watch, type FSWatcher } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'

/** How often every file is read even without a change event (a missed event, a file not yet created). */
const FALLBACK_POLL_MS = 250

interface FollowedFile {
  handle: FileHandle | undefined
  watcher: FSWatcher | undefined
  changed: boolean
  offset: number
  decoder: StringDecoder
  rest: string
}

export class LogWatch {
  private readonly files = new Map<string, FollowedFile>()
  private readonly buffer = Buffer.allocUnsafe(1 << 16)
  private wakeWaiter: (() => void) | undefined
  /** message → version → file → time (ms) */
  readonly seen = new Map<string, Map<number, Map<string, number>>>()
  private readonly messages: Set<string>

  constructor (paths: string[], messages: string[]) {
    for (const path of paths) this.files.set(path, { handle: undefined, watcher: undefined, changed: true, offset: 0, decoder: new StringDecoder('utf8'), rest: '' })
    this.messages = new Set(messages)
  }

  /** Reads what was appended to the files that changed (all of them when `everyFile`). */
  async poll (everyFile = true): Promise<void> {
    for (const [path, file] of this.files) {
      if (file.handle === undefined) {
        file.handle = await open(path, 'r').catch(() => undefined)
        if (file.handle === undefined) continue
        file.watcher = watch(path, () => { file.changed = true; this.wakeWaiter?.() })
      }
      if (!file.changed && !everyFile) continue
      // Cleared before reading: a write landing during the read raises it again.
      file.changed = false
      for (;;) {
        const { bytesRead } = await file.handle.read(this.buffer, 0, this.buffer.length, file.offset)
        if (bytesRead === 0) break
        file.offset += bytesRead
        const lines = (file.rest + file.decoder.write(this.buffer.subarray(0, bytesRead))).split('\n')
        file.rest = lines.pop() ?? ''
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
    let lastFullPoll = 0
    while (Date.now() < deadline) {
      const everyFile = Date.now() - lastFullPoll >= FALLBACK_POLL_MS
      if (everyFile) lastFullPoll = Date.now()
      await this.poll(everyFile)
      const times = [...this.files.keys()].map(path => this.firstAtLeast(msg, version, path))
      if (times.every(t => t !== undefined)) return times as number[]
      if ([...this.files.values()].some(file => file.changed)) continue
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, FALLBACK_POLL_MS)
        this.wakeWaiter = () => { clearTimeout(timer); resolve() }
      })
      this.wakeWaiter = undefined
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
    for (const file of this.files.values()) {
      file.watcher?.close()
      await file.handle?.close()
    }
  }
}
