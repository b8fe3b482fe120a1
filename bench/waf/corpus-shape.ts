// Shape of the WAF corpus (test/fixtures/waf/*.jsonl) and the helpers that build and load
// it. One line = one HTTP request as sent on the wire: method, path with query (already
// URL-encoded, possibly with deliberate extra encodings), headers and body, plus the
// class it belongs to ('benign' for legitimate traffic).
import { readFileSync } from 'node:fs'

export type AttackClass = 'sqli' | 'xss' | 'cmdi' | 'lfi' | 'rfi' | 'code' | 'scanner'
export type CorpusClass = AttackClass | 'benign'

export interface CorpusRequest {
  method: string
  /** Path and query exactly as sent. */
  path: string
  headers: Record<string, string>
  body?: string
  class: CorpusClass
}

/** Classes the targets hold us to (≥ 90 % blocked each); 'code' and 'scanner' are reported too. */
export const TARGET_CLASSES: readonly AttackClass[] = ['sqli', 'xss', 'cmdi', 'lfi', 'rfi', 'scanner']

/** Small seeded PRNG (mulberry32) so the generated corpus is reproducible. */
export class Rng {
  private state: number
  constructor (seed: number) { this.state = seed >>> 0 }
  next (): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  pick<T> (items: readonly T[]): T { return items[Math.floor(this.next() * items.length)]! }
}

export function queryRequest (cls: CorpusClass, path: string, name: string, value: string, preEncoded: boolean): CorpusRequest {
  return { method: 'GET', path: `${path}?${name}=${preEncoded ? value : encodeURIComponent(value)}`, headers: {}, class: cls }
}

export function formRequest (cls: CorpusClass, path: string, name: string, value: string, extra: Record<string, string> = {}): CorpusRequest {
  const body = new URLSearchParams({ ...extra, [name]: value }).toString()
  return { method: 'POST', path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, class: cls }
}

export function jsonRequest (cls: CorpusClass, path: string, payload: unknown): CorpusRequest {
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), class: cls }
}

export function cookieRequest (cls: CorpusClass, path: string, name: string, value: string): CorpusRequest {
  return { method: 'GET', path, headers: { cookie: `sid=8f14e45fceea167a; ${name}=${encodeURIComponent(value)}` }, class: cls }
}

export function toJsonl (requests: readonly CorpusRequest[]): string {
  return requests.map(r => JSON.stringify(r)).join('\n') + '\n'
}

export function loadCorpus (file: string | URL): CorpusRequest[] {
  return readFileSync(file, 'utf8').split('\n').filter(line => line.trim() !== '').map(line => JSON.parse(line) as CorpusRequest)
}
