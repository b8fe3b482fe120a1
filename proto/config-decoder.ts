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
import { hash } from 'node:crypto'
import protobuf from 'protobufjs'
import { configVersionCodec, domainCodec, type ConfigVersion, type Domain } from './codec.ts'
import { LumosError } from './lumos-error.ts'

/** Field number and wire type (length-delimited) of ConfigVersion.domains. */
const DOMAINS_FIELD = 6
const LENGTH_DELIMITED = 2
/** Above this many domains, reused domains are not frozen and are keyed by their sha256 (44 B instead of ~300 B). */
export const LARGE_ACCOUNT_DOMAINS = 5000

export class ConfigDecoder {
  /** The domains of the last decode, by their encoded bytes (as a latin1 string: exact, cheap to hash) or their sha256. */
  private previous = new Map<string, Domain>()

  /** Same result as configVersionCodec.decode (domains frozen up to LARGE_ACCOUNT_DOMAINS). Throws MALFORMED_MESSAGE. */
  decode (bytes: Uint8Array): ConfigVersion {
    const { rest, domains } = splitDomains(bytes)
    const config = configVersionCodec.decode(rest)
    const next = new Map<string, Domain>()
    const large = domains.length > LARGE_ACCOUNT_DOMAINS
    for (const encoded of domains) {
      const key = large ? hash('sha256', encoded, 'base64') : Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength).toString('latin1')
      let domain = next.get(key) ?? this.previous.get(key)
      if (domain === undefined) {
        domain = domainCodec.decode(encoded)
        if (!large) deepFreeze(domain)
      }
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
    // for…in, not Object.keys: no array per object (a 10 000-domain decode freezes ~100 000).
    for (const key in value) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
