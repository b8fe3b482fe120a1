// Replays a WAF corpus over loopback against a listening proxy and scores it: the share of
// each attack class answered 403 (blocked) and the share of benign requests answered 403
// (false positives). Shared by the WAF test and bench/waf/run.ts.
import { Agent, request } from 'node:http'
import type { CorpusClass, CorpusRequest } from './corpus-shape.ts'

export interface ReplayResult { request: CorpusRequest, status: number }

export interface ClassScore { total: number, blocked: number, rate: number }

export interface CorpusScore {
  /** Attack classes: rate = blocked / total (higher is better). */
  attacks: Partial<Record<CorpusClass, ClassScore>>
  /** Benign: rate = falsely blocked / total (lower is better). */
  benign: ClassScore
  missed: CorpusRequest[]
  falsePositives: CorpusRequest[]
}

function send (agent: Agent, port: number, req: CorpusRequest, host: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, ...req.headers }
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body))
    const r = request({ host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent, signal }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
      res.on('error', reject)
    })
    r.on('error', reject)
    r.end(req.body)
  })
}

/** Sends every request (at most `concurrency` in flight) and returns the status of each. */
export async function replayCorpus (corpus: readonly CorpusRequest[], opts: { port: number, host?: string, concurrency?: number, signal?: AbortSignal }): Promise<ReplayResult[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 8 })
  const signal = opts.signal ?? AbortSignal.timeout(120_000)
  const results: ReplayResult[] = new Array(corpus.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < corpus.length) {
      const index = next++
      const req = corpus[index]!
      let status: number
      try {
        status = await send(agent, opts.port, req, opts.host ?? 'waf.test', signal)
      } catch {
        // a reset is what some WAFs answer to malformed attacks: count it as blocked
        status = 0
      }
      results[index] = { request: req, status }
    }
  }
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker))
  } finally {
    agent.destroy()
  }
  return results
}

export function scoreResults (results: readonly ReplayResult[], isBlocked: (status: number) => boolean = s => s === 403 || s === 0): CorpusScore {
  const attacks: Partial<Record<CorpusClass, ClassScore>> = {}
  const benign: ClassScore = { total: 0, blocked: 0, rate: 0 }
  const missed: CorpusRequest[] = []
  const falsePositives: CorpusRequest[] = []
  for (const { request: req, status } of results) {
    const blocked = isBlocked(status)
    if (req.class === 'benign') {
      benign.total++
      if (blocked) { benign.blocked++; falsePositives.push(req) }
      continue
    }
    const score = attacks[req.class] ??= { total: 0, blocked: 0, rate: 0 }
    score.total++
    if (blocked) score.blocked++; else missed.push(req)
  }
  for (const score of [...Object.values(attacks), benign]) score.rate = score.total === 0 ? 0 : score.blocked / score.total
  return { attacks, benign, missed, falsePositives }
}
