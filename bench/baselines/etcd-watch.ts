// Baseline for config distribution: the same payload delivered to N subscribers through
// etcd watch (Debian etcd-server), one client connection per subscriber, in one of three
// shapes (EtcdSubscribers). Returns per-put delivery time to all subscribers.
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitFor } from '../../scripts/fleet/local-fleet.ts'

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64')

const SUBSCRIBER_ENTRY = fileURLToPath(new URL('./etcd-subscriber.ts', import.meta.url))

/** Milliseconds on the machine-wide monotonic clock (the same in every process). */
export function monotonicMs (): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/**
 * - 'in-process': N HTTP/JSON gateway watch streams, all read by this process;
 * - 'node-processes': each stream read by its own Node process, as each shield node is one
 *   (on a shared 2-core box, waking N processes is part of what N nodes pay);
 * - 'etcdctl': N `etcdctl watch` processes (Debian etcd-client, etcd's own Go gRPC client),
 *   each printing events to a pipe this process reads and timestamps (the pipe hop counts
 *   against etcd). The fastest shape at large payloads: 20 x 554 KB p99 144 ms against
 *   222 ms in-process (bench/results/gossip.json).
 */
export type EtcdSubscribers = 'in-process' | 'node-processes' | 'etcdctl'

export async function measureEtcdWatch (subscribers: number, payloadBytes: number, puts: number, shape: EtcdSubscribers = 'in-process'): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-etcd-'))
  const [client, peer] = [await freePort(), await freePort()]
  const url = `http://127.0.0.1:${client}`
  const etcd = spawn('etcd', ['--data-dir', join(dir, 'data'), '--listen-client-urls', url, '--advertise-client-urls', url,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
    '--initial-cluster', `default=http://127.0.0.1:${peer}`], { stdio: 'ignore' })
  const controllers: AbortController[] = []
  const children: ChildProcess[] = []
  try {
    await waitFor('etcd', async () => (await fetch(`${url}/health`)).ok ? true : undefined, 20_000)
    const key = 'lumos/bench/config'
    const received: Array<Map<number, number>> = []
    for (let i = 0; i < subscribers; i++) {
      const seen = new Map<number, number>()
      received.push(seen)
      if (shape === 'etcdctl') {
        const child = spawn('etcdctl', ['--endpoints', url, 'watch', key, '-w', 'json'], { stdio: ['ignore', 'pipe', 'inherit'] })
        children.push(child)
        readEtcdctlLines(child.stdout, revision => { seen.set(revision, monotonicMs()) })
        continue
      }
      if (shape === 'node-processes') {
        const child = fork(SUBSCRIBER_ENTRY, [url, b64(key)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
        children.push(child)
        await new Promise<void>((resolve, reject) => {
          child.on('message', (m: { type: string, revision?: number, at?: number }) => {
            if (m.type === 'watching') resolve()
            if (m.type === 'event') seen.set(m.revision as number, m.at as number)
          })
          child.once('exit', code => { reject(new Error(`etcd subscriber exited with ${code}`)) })
        })
        continue
      }
      const controller = new AbortController()
      controllers.push(controller)
      const response = await fetch(`${url}/v3/watch`, { method: 'POST', body: JSON.stringify({ create_request: { key: b64(key) } }), signal: controller.signal })
      void readWatch(response, event => { seen.set(event, monotonicMs()) })
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    const samples: number[] = []
    const payload = new Uint8Array(payloadBytes).fill(97)
    for (let n = 1; n <= puts; n++) {
      payload[0] = n % 256
      const started = monotonicMs()
      const put = await fetch(`${url}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(key), value: b64(payload) }) })
      const { header } = await put.json() as { header: { revision: string } }
      const revision = Number(header.revision)
      await waitFor(`etcd watchers of revision ${revision}`, async () => received.every(seen => seen.has(revision)) ? true : undefined, 10_000)
      samples.push(Math.max(...received.map(seen => seen.get(revision) as number)) - started)
    }
    return samples
  } finally {
    for (const controller of controllers) controller.abort()
    for (const child of children) child.kill('SIGTERM')
    etcd.kill('SIGTERM')
    await new Promise(resolve => etcd.once('exit', resolve))
    await rm(dir, { recursive: true, force: true })
  }
}

/** The gateway streams one JSON object per event batch; calls `onRevision` as each arrives. */
export async function readWatch (response: Response, onRevision: (revision: number) => void): Promise<void> {
  const decoder = new TextDecoder()
  let buffer = ''
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true })
      let newline: number
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        const events = (JSON.parse(line) as { result?: { events?: Array<{ kv: { mod_revision: string } }> } }).result?.events ?? []
        for (const event of events) onRevision(Number(event.kv.mod_revision))
      }
    }
  } catch { /* aborted at the end of the run */ }
}

/** `etcdctl watch -w json` prints one JSON line per watch response, its header first; values can be MBs. */
function readEtcdctlLines (stream: NodeJS.ReadableStream, onRevision: (revision: number) => void): void {
  let head = ''
  stream.on('data', (chunk: Buffer) => {
    let from = 0
    while (from < chunk.length) {
      const newline = chunk.indexOf(10, from)
      const end = newline < 0 ? chunk.length : newline
      if (head.length < 200) head += chunk.toString('latin1', from, Math.min(end, from + 200))
      if (newline < 0) return
      const revision = /"revision":(\d+)/.exec(head)?.[1]
      if (revision !== undefined) onRevision(Number(revision))
      head = ''
      from = newline + 1
    }
  })
}
