// Protobuf codec for the Lumos wire format (proto/lumos.proto), shared by coordinator and
// nodes. Decoding is strict: unknown enums or malformed bytes throw MALFORMED_MESSAGE.
import { readFileSync } from 'node:fs'
import protobuf from 'protobufjs'
import { LumosError } from './lumos-error.ts'

export interface Origin {
  address: string
  port: number
  weight: number
  tls: boolean
}

export interface Domain {
  id: string
  hostname: string
  aliases: string[]
  /** Ordered: the first is the primary, the rest are secondaries. */
  serverIds: string[]
  origins: Origin[]
}

export interface ServerEntry {
  id: string
  name: string
  peerId: string
  multiaddrs: string[]
  publicIp: string
  status: string
}

/** A complete configuration of one account; `version` strictly increases per account. */
export interface ConfigVersion {
  accountId: string
  version: number
  previousHash: Uint8Array
  issuedAtMs: number
  servers: ServerEntry[]
  domains: Domain[]
}

export interface SignedEnvelope {
  payload: Uint8Array
  signature: Uint8Array
  keyId: string
}

export interface SyncRequest {
  accountId: string
  haveVersion: number
}

export interface SyncResponse {
  envelopes: SignedEnvelope[]
}

const root = protobuf.parse(readFileSync(new URL('./lumos.proto', import.meta.url), 'utf8')).root
const toObjectOptions = { longs: Number, bytes: Uint8Array, defaults: true, arrays: true } as const

function codecFor<T extends object> (typeName: string): { encode: (value: T) => Uint8Array, decode: (bytes: Uint8Array) => T } {
  const type = root.lookupType(`lumos.${typeName}`)
  return {
    encode (value: T): Uint8Array {
      const problem = type.verify(value as Record<string, unknown>)
      if (problem !== null) throw new LumosError('MALFORMED_MESSAGE', `cannot encode ${typeName}: ${problem}`)
      return type.encode(type.fromObject(value as Record<string, unknown>)).finish()
    },
    decode (bytes: Uint8Array): T {
      try {
        return type.toObject(type.decode(bytes), toObjectOptions) as T
      } catch (err) {
        throw new LumosError('MALFORMED_MESSAGE', `cannot decode ${typeName}: ${(err as Error).message}`, { cause: err })
      }
    }
  }
}

export const configVersionCodec = codecFor<ConfigVersion>('ConfigVersion')
export const signedEnvelopeCodec = codecFor<SignedEnvelope>('SignedEnvelope')
export const syncRequestCodec = codecFor<SyncRequest>('SyncRequest')
export const syncResponseCodec = codecFor<SyncResponse>('SyncResponse')
