// Protobuf codec for the Lumos wire format (proto/lumos.proto), shared by coordinator and
// nodes. Decoding is strict: unknown enums or malformed bytes throw MALFORMED_MESSAGE.
import { readFileSync } from 'node:fs'
import protobuf from 'protobufjs'
import { normalizeDecodedConfig, normalizeDecodedDomain } from './domain-settings.ts'
import { LumosError } from './lumos-error.ts'

export interface Origin {
  address: string
  port: number
  weight: number
  tls: boolean
}

export interface TlsSettings {
  enabled: boolean
  redirectHttp: boolean
}

export interface WafSettings {
  /** IPs / CIDRs refused with 403. */
  ipBlacklist: string[]
  /** 0 = rate limiting off. */
  rateLimitRequests: number
  rateLimitWindowS: number
  owasp: boolean
  /** 1..4 */
  paranoia: number
}

export interface BotSettings {
  blockBadBots: boolean
  jsChallenge: boolean
  challengeTtlS: number
}

export interface Timeouts {
  connectMs: number
  serverMs: number
  clientMs: number
}

export interface ErrorPage {
  status: number
  html: string
}

export interface FailoverSettings {
  enabled: boolean
  mode: 'failover' | 'round-robin' | ''
  zone: string
  record: string
}

export interface Domain {
  id: string
  hostname: string
  aliases: string[]
  /** Ordered: the first is the primary, the rest are secondaries. */
  serverIds: string[]
  origins: Origin[]
  tls: TlsSettings
  waf: WafSettings
  bot: BotSettings
  timeouts: Timeouts
  errorPages: ErrorPage[]
  failover: FailoverSettings
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
  /** Refused on every domain of the account. */
  accountIpBlacklist: string[]
  /** HMAC key of the JS-challenge cookie, the same on every node of the account. */
  challengeKey: Uint8Array
}

export interface SignedEnvelope {
  payload: Uint8Array
  signature: Uint8Array
  keyId: string
  /** '' = raw ConfigVersion bytes, 'zstd' = zstd-compressed, 'br' = brotli (versions signed before zstd). */
  payloadEncoding: string
  /** Rotations of the coordinator key, oldest first (proto/key-rotation.ts); decoded as [] when none. */
  keyRotations?: SignedKeyRotation[]
}

/** One rotation of the coordinator signing key; signed by the old key. */
export interface KeyRotation {
  /** base64 SPKI DER of the new key. */
  newPublicKey: string
  newKeyId: string
  oldKeyId: string
  issuedAtMs: number
}

export interface SignedKeyRotation {
  /** Encoded KeyRotation. */
  statement: Uint8Array
  /** ed25519 by the old key over KEY_ROTATION_CONTEXT + statement. */
  signature: Uint8Array
}

export interface SyncRequest {
  accountId: string
  haveVersion: number
}

export interface SyncResponse {
  envelopes: SignedEnvelope[]
}

/** A peer's periodic "I hold version N (payload hash H)"; see proto/heartbeat.ts. */
export interface Heartbeat {
  serverId: string
  peerId: string
  appliedVersion: number
  /** sha256 of the held version's payload; empty when the sender holds none. */
  appliedHash: Uint8Array
  sentAtMs: number
  /** The sender's HAProxy answered its own health check just now. */
  haproxyHealthy: boolean
}

export interface PeerViewEntry {
  targetServerId: string
  state: string
  ageMs: number
}

export interface ObservationReport {
  observerServerId: string
  observerPeerId: string
  views: PeerViewEntry[]
  sentAtMs: number
}

export interface ServerErrorReport {
  serverId: string
  peerId: string
  type: string
  message: string
  version: number
  sentAtMs: number
}

/** Exactly one of the fields is set. */
export interface Report {
  observations?: ObservationReport | null
  serverError?: ServerErrorReport | null
}

export interface ProbeRequest {
  targetPeerId: string
}

export interface ProbeResponse {
  reachable: boolean
}

const root = protobuf.parse(readFileSync(new URL('./lumos.proto', import.meta.url), 'utf8')).root
const toObjectOptions = { longs: Number, bytes: Uint8Array, defaults: true, arrays: true } as const

function codecFor<T extends object> (typeName: string): { encode: (value: T) => Uint8Array, decode: (bytes: Uint8Array) => T } {
  const type = root.lookupType(`lumos.${typeName}`)
  return {
    // Values are typed by the interfaces above, so they are encoded as they are: protobufjs
    // verify/fromObject cost more than the encoding itself on 10 000-domain configs.
    encode (value: T): Uint8Array {
      try {
        return type.encode(value as Record<string, unknown>).finish()
      } catch (err) {
        throw new LumosError('MALFORMED_MESSAGE', `cannot encode ${typeName}: ${(err as Error).message}`, { cause: err })
      }
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

const rawConfigVersionCodec = codecFor<ConfigVersion>('ConfigVersion')
export const configVersionCodec = {
  encode: rawConfigVersionCodec.encode,
  decode: (bytes: Uint8Array): ConfigVersion => normalizeDecodedConfig(rawConfigVersionCodec.decode(bytes))
}
const rawDomainCodec = codecFor<Domain>('Domain')
/** One Domain message (proto/config-decoder.ts decodes the domains of a version one by one). */
export const domainCodec = {
  decode: (bytes: Uint8Array): Domain => normalizeDecodedDomain(rawDomainCodec.decode(bytes))
}
export const signedEnvelopeCodec = codecFor<SignedEnvelope>('SignedEnvelope')
export const keyRotationCodec = codecFor<KeyRotation>('KeyRotation')
export const signedKeyRotationCodec = codecFor<SignedKeyRotation>('SignedKeyRotation')
export const syncRequestCodec = codecFor<SyncRequest>('SyncRequest')
export const syncResponseCodec = codecFor<SyncResponse>('SyncResponse')
export const heartbeatCodec = codecFor<Heartbeat>('Heartbeat')
export const reportCodec = codecFor<Report>('Report')
export const probeRequestCodec = codecFor<ProbeRequest>('ProbeRequest')
export const probeResponseCodec = codecFor<ProbeResponse>('ProbeResponse')
