// Decodes ConfigVersion payloads one after the other, reusing the Domain objects of the
// previous decode whose encoded bytes are identical. A change to one domain of a
// 1 000-domain account then decodes one Domain message instead of all of them (protobufjs
// decode + toObject was as costly as the render), and the renderer can keep per-domain
// output keyed by the object (node/render/backend.ts). Reused objects are deep-frozen: they
// are shared between versions, so nothing may change them.
// What is kept costs about 4 KB of heap per domain with the renderer's output (40 MB at
// 10 000 domains, measured): above REUSE_MAX_DOMAINS the node decodes every domain each
// time instead, and holds nothing between versions (node RSS < 150 MB at 10 000 domains).
import protobuf from 'protobufjs'
import { configVersionCodec, domainCodec, type ConfigVersion, type Domain } from './codec.ts'
import { LumosError } from './lumos-error.ts'

/** Field number and wire type (length-delimited) of ConfigVersion.domains. */
const DOMAINS_FIELD = 6
const LENGTH_DELIMITED = 2
/** Accounts up to this size reuse decoded domains between versions. */
export const REUSE_MAX_DOMAINS = 5000

export class ConfigDecoder {
  /** The domains of the last decode, by their encoded bytes (as a latin1 string: exact, cheap to hash). */
  private previous = new Map<string, Domain>()

  /** Same result as configVersionCodec.decode (domains frozen, up to REUSE_MAX_DOMAINS). Throws MALFORMED_MESSAGE. */
  decode (bytes: Uint8Array): ConfigVersion {
    const { rest, domains } = splitDomains(bytes)
    const config = configVersionCodec.decode(rest)
    if (domains.length > REUSE_MAX_DOMAINS) {
      this.previous = new Map()
      for (const encoded of domains) config.domains.push(domainCodec.decode(encoded))
      return config
    }
    const next = new Map<string, Domain>()
    for (const encoded of domains) {
      const key = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('latin1')
      const domain = next.get(key) ?? this.previous.get(key) ?? deepFreeze(domainCodec.decode(encoded))
      next.set(key, domain)
      config.domains.push(domain)
    }
    this.previous = next
    return config
  }
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
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
