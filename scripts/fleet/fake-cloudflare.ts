// FakeCloudflare: a loopback stand-in for the parts of the Cloudflare v4 API that the DNS
// failover uses (zones by name; list/create/patch/put/delete DNS records), for tests and
// the local demo fleet. It answers in Cloudflare's envelope
// { success, errors, messages, result, result_info }, checks the Bearer token, records
// every call for tests to inspect, and can inject faults (429/5xx, latency, hangs).
// It is a fake at a network edge we do not own: only what the official SDK sends is served.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { isIPv4 } from 'node:net'

export interface FakeZone { id: string, name: string, status: 'active' }

export interface FakeRecord {
  id: string
  zone_id: string
  zone_name: string
  name: string
  type: string
  content: string
  ttl: number
  proxied: boolean
  proxiable: boolean
  comment: string | null
  tags: string[]
  meta: Record<string, unknown>
  settings: Record<string, unknown>
  created_on: string
  modified_on: string
}

/** One request as the fake saw it; `fault` names the injected fault that answered it. */
export interface RecordedCall {
  method: string
  path: string
  query: Record<string, string>
  body: unknown
  at: number
  status: number
  fault?: FakeFault['kind']
}

/** Which requests a fault applies to; every request when empty. */
export interface FaultMatch { method?: string, pathIncludes?: string }

export type FakeFault =
  | { kind: 'status', status: 429 | 500 | 502 | 503, retryAfterSeconds?: number }
  | { kind: 'latency', ms: number }
  | { kind: 'hang' }

interface PendingFault { fault: FakeFault, remaining: number, match: FaultMatch }

export interface FakeCloudflareOptions {
  /** The only API token accepted (Authorization: Bearer <token>). */
  token: string
  /** Clock for record timestamps and call times. */
  now?: () => number
}

const DEFAULT_PER_PAGE = 100
const MAX_PER_PAGE = 5000

class ApiFailure extends Error {
  readonly status: number
  readonly cfCode: number
  constructor (status: number, cfCode: number, message: string) {
    super(message)
    this.status = status
    this.cfCode = cfCode
  }
}

export class FakeCloudflare {
  readonly calls: RecordedCall[] = []
  private readonly options: FakeCloudflareOptions
  private readonly zones = new Map<string, FakeZone>()
  private readonly recordsById = new Map<string, FakeRecord>()
  private readonly faults: PendingFault[] = []
  private server: Server | undefined
  private port = 0

  constructor (options: FakeCloudflareOptions) {
    this.options = options
  }

  /** Base URL to give the SDK: http://127.0.0.1:PORT/client/v4 */
  get url (): string {
    if (this.server === undefined) throw new Error('fake Cloudflare not started')
    return `http://127.0.0.1:${this.port}/client/v4`
  }

  async start (): Promise<void> {
    const server = createServer((req, res) => { this.handle(req, res).catch(err => { res.destroy(err as Error) }) })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.port = (server.address() as { port: number }).port
  }

  async stop (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  addZone (name: string): FakeZone {
    const zone: FakeZone = { id: randomUUID().replaceAll('-', ''), name: name.toLowerCase(), status: 'active' }
    this.zones.set(zone.id, zone)
    return zone
  }

  addRecord (zoneName: string, record: { name: string, type?: string, content: string, ttl?: number, proxied?: boolean }): FakeRecord {
    const zone = [...this.zones.values()].find(z => z.name === zoneName.toLowerCase())
    if (zone === undefined) throw new Error(`fake Cloudflare has no zone ${zoneName}`)
    return this.insert(zone, { type: 'A', ...record })
  }

  /** Copies of the zone's records, in creation order. */
  records (zoneName: string): FakeRecord[] {
    return [...this.recordsById.values()].filter(r => r.zone_name === zoneName.toLowerCase()).map(r => ({ ...r }))
  }

  /** The next `times` matching requests answer with the fault instead of (or before) the API. */
  injectFault (fault: FakeFault, times = 1, match: FaultMatch = {}): void {
    this.faults.push({ fault, remaining: times, match })
  }

  clearFaults (): void {
    this.faults.length = 0
  }

  /** Calls that changed records (POST, PUT, PATCH, DELETE). */
  writeCalls (): RecordedCall[] {
    return this.calls.filter(c => c.method !== 'GET')
  }

  private now (): number {
    return (this.options.now ?? Date.now)()
  }

  private takeFault (method: string, path: string): FakeFault | undefined {
    const pending = this.faults.find(f => f.remaining > 0 &&
      (f.match.method === undefined || f.match.method === method) &&
      (f.match.pathIncludes === undefined || path.includes(f.match.pathIncludes)))
    if (pending === undefined) return undefined
    pending.remaining--
    return pending.fault
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const method = req.method ?? 'GET'
    const raw = await readBody(req)
    const call: RecordedCall = { method, path: url.pathname, query: Object.fromEntries(url.searchParams), body: undefined, at: this.now(), status: 0 }
    this.calls.push(call)
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      call.status = status
      res.writeHead(status, { 'content-type': 'application/json', ...headers })
      res.end(JSON.stringify(payload))
    }
    try {
      call.body = raw === '' ? undefined : JSON.parse(raw)
    } catch {
      send(400, failure(9207, 'Request body is invalid JSON.'))
      return
    }

    const fault = this.takeFault(method, url.pathname)
    if (fault !== undefined) call.fault = fault.kind
    if (fault?.kind === 'hang') return // never answered; the client's timeout must fire
    if (fault?.kind === 'latency') await new Promise(resolve => setTimeout(resolve, fault.ms))
    if (fault?.kind === 'status') {
      const headers: Record<string, string> = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) }
      send(fault.status, failure(fault.status === 429 ? 10429 : 10500, fault.status === 429 ? 'Rate limited. Please wait and consider throttling your request speed' : 'Internal Server Error'), headers)
      return
    }

    if (req.headers.authorization !== `Bearer ${this.options.token}`) {
      send(403, failure(10000, 'Authentication error'))
      return
    }
    try {
      const { status, result, resultInfo } = this.route(method, url, call.body)
      send(status, { success: true, errors: [], messages: [], result, ...(resultInfo === undefined ? {} : { result_info: resultInfo }) })
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err
      send(err.status, failure(err.cfCode, err.message))
    }
  }

  private route (method: string, url: URL, body: unknown): { status: number, result: unknown, resultInfo?: unknown } {
    const parts = url.pathname.replace(/^\/client\/v4\/?/, '').split('/').filter(p => p !== '')
    const q = url.searchParams
    if (parts.length === 1 && parts[0] === 'zones' && method === 'GET') {
      const name = q.get('name')?.toLowerCase()
      return paginate([...this.zones.values()].filter(z => name === undefined || z.name === name), q)
    }
    if (parts[0] !== 'zones' || parts[2] !== 'dns_records' || parts.length > 4) throw new ApiFailure(404, 7000, 'No route for that URI')
    const zone = this.zones.get(parts[1] ?? '')
    if (zone === undefined) throw new ApiFailure(400, 7003, 'Could not route to /zones, perhaps your object identifier is invalid?')
    if (parts.length === 3 && method === 'GET') {
      const name = (q.get('name.exact') ?? q.get('name'))?.toLowerCase()
      const type = q.get('type')
      const content = q.get('content.exact') ?? q.get('content')
      const found = this.records(zone.name).filter(r =>
        (name === undefined || r.name === name) && (type === null || r.type === type) && (content === null || r.content === content))
      return paginate(found, q)
    }
    if (parts.length === 3 && method === 'POST') return { status: 200, result: this.insert(zone, asRecordBody(body)) }
    if (parts.length !== 4) throw new ApiFailure(404, 7000, 'No route for that URI')
    const record = this.recordsById.get(parts[3] ?? '')
    if (record === undefined || record.zone_id !== zone.id) throw new ApiFailure(404, 81044, 'Record does not exist.')
    if (method === 'DELETE') {
      this.recordsById.delete(record.id)
      return { status: 200, result: { id: record.id } }
    }
    if (method === 'PATCH' || method === 'PUT') {
      const changes = asRecordBody(body, method === 'PATCH')
      const next: FakeRecord = method === 'PUT'
        ? { ...record, comment: null, proxied: false, ttl: 1, ...changes, modified_on: new Date(this.now()).toISOString() }
        : { ...record, ...changes, modified_on: new Date(this.now()).toISOString() }
      next.name = next.name.toLowerCase()
      this.validate(zone, next, record.id)
      this.recordsById.set(record.id, next)
      return { status: 200, result: { ...next } }
    }
    throw new ApiFailure(405, 10405, `Method ${method} not allowed`)
  }

  private insert (zone: FakeZone, body: Partial<FakeRecord>): FakeRecord {
    const at = new Date(this.now()).toISOString()
    const record: FakeRecord = {
      id: randomUUID().replaceAll('-', ''),
      zone_id: zone.id,
      zone_name: zone.name,
      name: (body.name ?? '').toLowerCase(),
      type: body.type ?? '',
      content: body.content ?? '',
      ttl: body.ttl ?? 1,
      proxied: body.proxied ?? false,
      proxiable: true,
      comment: body.comment ?? null,
      tags: body.tags ?? [],
      meta: {},
      settings: {},
      created_on: at,
      modified_on: at
    }
    this.validate(zone, record, undefined)
    this.recordsById.set(record.id, record)
    return { ...record }
  }

  private validate (zone: FakeZone, record: FakeRecord, selfId: string | undefined): void {
    if (record.name === '' || record.type === '') throw new ApiFailure(400, 9000, 'DNS name and type are required.')
    if (record.name !== zone.name && !record.name.endsWith(`.${zone.name}`)) throw new ApiFailure(400, 9007, `Name ${record.name} is not in zone ${zone.name}.`)
    if (record.type === 'A' && !isIPv4(record.content)) throw new ApiFailure(400, 9005, 'Content for A record must be a valid IPv4 address.')
    const twin = [...this.recordsById.values()].find(r => r.id !== selfId && r.zone_id === zone.id &&
      r.name === record.name && r.type === record.type && r.content === record.content)
    if (twin !== undefined) throw new ApiFailure(400, 81058, 'An identical record already exists.')
  }
}

function failure (code: number, message: string): object {
  return { success: false, errors: [{ code, message }], messages: [], result: null }
}

function paginate<T> (items: T[], q: URLSearchParams): { status: number, result: T[], resultInfo: object } {
  const perPage = Math.min(MAX_PER_PAGE, Math.max(1, Number(q.get('per_page') ?? DEFAULT_PER_PAGE) || DEFAULT_PER_PAGE))
  const page = Math.max(1, Number(q.get('page') ?? 1) || 1)
  const result = items.slice((page - 1) * perPage, page * perPage)
  const totalPages = Math.ceil(items.length / perPage)
  return { status: 200, result, resultInfo: { page, per_page: perPage, count: result.length, total_count: items.length, total_pages: totalPages } }
}

const RECORD_FIELDS = ['name', 'type', 'content', 'ttl', 'proxied', 'comment', 'tags'] as const

/** The writable fields of a record body; unknown fields are ignored like Cloudflare does. */
function asRecordBody (body: unknown, partial = false): Partial<FakeRecord> {
  if (typeof body !== 'object' || body === null) {
    if (partial) return {}
    throw new ApiFailure(400, 9207, 'Request body must be a JSON object.')
  }
  const source = body as Record<string, unknown>
  const picked: Record<string, unknown> = {}
  for (const field of RECORD_FIELDS) if (source[field] !== undefined) picked[field] = source[field]
  return picked as Partial<FakeRecord>
}

async function readBody (req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
