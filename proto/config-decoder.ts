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
   * The last decode's domains, by position: their encodings (views into its payload, which
   * they keep alive: 2.5 MB at 10 000 domains, outside V8's heap) and objects. Compared by
   * position, a version with the same number of domains builds no map: at 10 000 domains a
   * map of 10 000 keys per version was most of the decoder's garbage.
   */
  private previous: { encoded: Uint8Array[], domains: Domain[] } = { encoded: [], domains: [] }

  /** Same result as configVersionCodec.decode (domains frozen up to LARGE_ACCOUNT_DOMAINS). Throws MALFORMED_MESSAGE. */
  decode (bytes: Uint8Array): ConfigVersion {
    const { rest, domains: encoded } = splitDomains(bytes)
    const config = configVersionCodec.decode(rest)
    const large = encoded.length > LARGE_ACCOUNT_DOMAINS
    const previous = this.previous
    // Edits keep every domain where it was; domains added or removed shift them: then the
    // unchanged ones are found by their bytes.
    const byBytes = encoded.length === previous.encoded.length ? undefined : new Map(previous.encoded.map((bytes, i) => [latin1(bytes), previous.domains[i]!]))
    for (const [i, bytes] of encoded.entries()) {
      const reused = byBytes === undefined
        ? (Buffer.compare(bytes, previous.encoded[i]!) === 0 ? previous.domains[i] : undefined)
        : byBytes.get(latin1(bytes))
      // Not across the size limit: a frozen domain in a large account would fill the renderer's cache.
      config.domains.push(reused !== undefined && Object.isFrozen(reused) !== large ? reused : decodeDomain(bytes, large))
    }
    this.previous = { encoded, domains: config.domains }
    return config
  }
}

function decodeDomain (bytes: Uint8Array, large: boolean): Domain {
  const domain = domainCodec.decode(bytes)
  return large ? domain : deepFreeze(domain)
}

/** Bytes as a latin1 string: exact, and cheap to hash as a map key. */
function latin1 (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** The encoded Domain messages of a ConfigVersion, and its other fields as bytes. */
function splitDomains (bytes: Uint8Array): { rest: Uint8Array, domains: Uint8Array[] } {
  const reader = protobuf.Reader.create(bytes)
  const rest: Uint8Array[] = []
  const domains: Uint8Array[] = []
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos
      const tag = reader.uint32()
      if (tag >>> 3 === DOMAINS_FIELD && (tag & 7) === LENGTH_DELIMITED) {
        domains.push(reader.bytes())
        continue
      }
      reader.skipType(tag & 7)
      rest.push(bytes.subarray(start, reader.pos))
    }
  } catch (err) {
    throw new LumosError('MALFORMED_MESSAGE', `cannot decode ConfigVersion: ${(err as Error).message}`, { cause: err })
  }
  return { rest: Buffer.concat(rest), domains }
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value)
    // for…in, not Object.keys: no array per object (a 10 000-domain decode freezes ~100 000).
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
