// Decodes ConfigVersion payloads one after the other, reusing the Domain objects of the
// previous decode whose encoded bytes are identical. A change to one domain of a
// 1 000-domain account then decodes one Domain message instead of all of them (protobufjs
// decode + toObject was as costly as the render), the apply path sees by identity which
// domains changed (node/apply/origin-change.ts), and the renderer keeps per-domain output
// for frozen domains (node/render/backend.ts).
// Reused objects are shared between versions, so nothing may change them: up to
// LARGE_ACCOUNT_DOMAINS they are deep-frozen (which also enables the renderer's cache).
// Larger accounts are reused unfrozen: at 10 000 domains frozen objects left the node's
// heap ~5 MB and its RSS ~10 MB larger (bench/memory, target < 150 MB), and the renderer's
// cache would cost 40 MB more. Code that mutated a domain would throw in the tests, which
// run below that size.
import protobuf from 'protobufjs'
import { configVersionCodec, domainCodec, type ConfigVersion, type Domain } from './codec.ts'
import { LumosError } from './lumos-error.ts'

/** Field number and wire type (length-delimited) of ConfigVersion.domains. */
const DOMAINS_FIELD = 6
const LENGTH_DELIMITED = 2
/** Above this many domains, reused domains are not frozen. */
export const LARGE_ACCOUNT_DOMAINS = 5000

export class ConfigDecoder {
  /**
   * The last decode's payload, where each of its domains starts and ends in it, and the
   * domains' objects. Compared by position, a version with the same number of domains builds
   * no map: at 10 000 domains a map of 10 000 keys per version was most of the decoder's
   * garbage; so were views of each domain's bytes, which lived exactly one version and were
   * promoted by the garbage collector (offsets are two numbers in one array).
   */
  private previous: { payload: Buffer, bounds: number[], domains: Domain[] } = { payload: Buffer.alloc(0), bounds: [], domains: [] }

  /** Same result as configVersionCodec.decode (domains frozen up to LARGE_ACCOUNT_DOMAINS). Throws MALFORMED_MESSAGE. */
  decode (bytes: Uint8Array): ConfigVersion {
    const payload = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const { rest, bounds } = splitDomains(payload)
    const config = configVersionCodec.decode(rest)
    const count = bounds.length / 2
    const large = count > LARGE_ACCOUNT_DOMAINS
    const previous = this.previous
    // Edits keep every domain where it was; domains added or removed shift them: then the
    // unchanged ones are found by their bytes.
    const samePlaces = count === previous.domains.length
    const unchanged = samePlaces ? unchangedInPlace({ payload, bounds }, previous) : undefined
    const byBytes = samePlaces ? undefined : domainsByBytes(previous)
    for (let i = 0; i < count; i++) {
      const start = bounds[2 * i] as number
      const end = bounds[2 * i + 1] as number
      const reused = unchanged !== undefined
        ? (unchanged[i] === 1 ? previous.domains[i] : undefined)
        : byBytes?.get(payload.toString('latin1', start, end))
      // Not across the size limit: a frozen domain in a large account would fill the renderer's cache.
      config.domains.push(reused !== undefined && Object.isFrozen(reused) !== large ? reused : decodeDomain(payload.subarray(start, end), large))
    }
    this.previous = { payload, bounds, domains: config.domains }
    return config
  }
}

interface Layout {
  payload: Buffer
  /** Start and end offset of each domain, in pairs. */
  bounds: number[]
}

/**
 * 1 for each domain whose bytes equal the previous version's at the same position. A range of
 * domains laid out alike in both payloads (every offset moved by the same amount) is compared
 * with one memcmp, and halved only when it differs: one changed domain of 10 000 takes about
 * 30 comparisons, where one per domain (10 000 calls into C++, each checking its arguments)
 * was a sixth of a node's CPU for a version of a 10 000-domain account.
 */
function unchangedInPlace (now: Layout, before: Layout): Uint8Array {
  const offsets = now.bounds.length
  // runStart[k]: where the run of offsets moved by the same amount as offset k begins.
  const runStart = new Uint32Array(offsets)
  for (let k = 1; k < offsets; k++) {
    const sameShift = (before.bounds[k] as number) - (now.bounds[k] as number) === (before.bounds[k - 1] as number) - (now.bounds[k - 1] as number)
    runStart[k] = sameShift ? runStart[k - 1] as number : k
  }
  const unchanged = new Uint8Array(offsets / 2)
  const mark = (lo: number, hi: number): void => {
    const alike = (runStart[2 * hi - 1] as number) <= 2 * lo &&
      now.payload.compare(before.payload, before.bounds[2 * lo], before.bounds[2 * hi - 1], now.bounds[2 * lo], now.bounds[2 * hi - 1]) === 0
    if (alike) unchanged.fill(1, lo, hi)
    else if (hi - lo > 1) {
      const mid = (lo + hi) >>> 1
      mark(lo, mid)
      mark(mid, hi)
    }
  }
  if (offsets > 0) mark(0, offsets / 2)
  return unchanged
}

/** The previous decode's domains by their bytes as latin1 strings (exact, and cheap to hash as map keys). */
function domainsByBytes (previous: ConfigDecoder['previous']): Map<string, Domain> {
  const map = new Map<string, Domain>()
  previous.domains.forEach((domain, i) => map.set(previous.payload.toString('latin1', previous.bounds[2 * i], previous.bounds[2 * i + 1]), domain))
  return map
}

function decodeDomain (bytes: Uint8Array, large: boolean): Domain {
  const domain = domainCodec.decode(bytes)
  return large ? domain : deepFreeze(domain)
}

/** Start and end offsets of the encoded Domain messages of a ConfigVersion (in pairs), and its other fields as bytes. */
function splitDomains (bytes: Uint8Array): { rest: Uint8Array, bounds: number[] } {
  const reader = protobuf.Reader.create(bytes)
  const rest: Uint8Array[] = []
  const bounds: number[] = []
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos
      const tag = reader.uint32()
      if (tag >>> 3 === DOMAINS_FIELD && (tag & 7) === LENGTH_DELIMITED) {
        const length = reader.uint32()
        bounds.push(reader.pos, reader.pos + length)
        reader.skip(length)
        continue
      }
      reader.skipType(tag & 7)
      rest.push(bytes.subarray(start, reader.pos))
    }
  } catch (err) {
    throw new LumosError('MALFORMED_MESSAGE', `cannot decode ConfigVersion: ${(err as Error).message}`, { cause: err })
  }
  return { rest: Buffer.concat(rest), bounds }
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value)
    // for…in, not Object.keys: no array per object (a 10 000-domain decode freezes ~100 000).
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
