// Baseline for config distribution: the same payload delivered to N subscribers through
// etcd watch (Debian etcd-server, one HTTP/JSON gateway watch stream per subscriber).
// Returns per-put delivery time to all subscribers. The subscribers run in this process,
// or (`processPerSubscriber`) each in its own process, as the shield nodes they stand for
// do: on a shared 2-core box, waking N processes is part of what N nodes pay.
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

export async function measureEtcdWatch (subscribers: number, payloadBytes: number, puts: number, opts: { processPerSubscriber?: boolean } = {}): Promise<number[]> {
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
      if (opts.processPerSubscriber === true) {
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
