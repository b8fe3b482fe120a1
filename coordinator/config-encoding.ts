// Encodes a ConfigVersion reusing each domain's encoded bytes from the previous versions.
// A change of a 10 000-domain account re-encodes only the domains it touched instead of
// all of them (≈ 50 ms of protobuf writing). The bytes are exactly those of
// configVersionCodec.encode: protobuf writes fields in number order and a repeated message
// field is the concatenation of its (tag, length, message) pieces, so the header fields
// (1-5), every domain piece (6) and the trailing fields (7-8) are encoded apart and joined.
import { configVersionCodec, type ConfigVersion, type Domain } from '../proto/codec.ts'

/** Encoded `domains` field piece per wire Domain; wire Domains are never mutated, only replaced. */
const pieces = new WeakMap<Domain, Uint8Array>()

function domainPiece (domain: Domain): Uint8Array {
  let piece = pieces.get(domain)
  if (piece === undefined) {
    // A ConfigVersion holding only this domain encodes to exactly its field-6 piece.
    piece = configVersionCodec.encode({ domains: [domain] } as unknown as ConfigVersion)
    pieces.set(domain, piece)
  }
  return piece
}

/** Byte-identical to configVersionCodec.encode(config). */
export function encodeConfigVersion (config: ConfigVersion): Uint8Array {
  const { domains, accountIpBlacklist, challengeKey, ...header } = config
  const head = configVersionCodec.encode(header as ConfigVersion)
  const tail = configVersionCodec.encode({ accountIpBlacklist, challengeKey } as unknown as ConfigVersion)
  return Buffer.concat([head, ...domains.map(domainPiece), tail])
}
