// Records the coordinator stores (coordinator/store). Hostnames and addresses in them are
// already validated and normalized; secrets exist only as SHA-256 hashes plus a prefix.
import type { Domain } from '../proto/codec.ts'

export type Plan = 'free' | 'pro' | 'enterprise'
export const PLAN_SERVER_LIMIT: Readonly<Record<Plan, number>> = { free: 1, pro: 5, enterprise: 20 }

export interface Account {
  id: string
  name: string
  plan: Plan
  createdAt: string
  /** Refused on every domain of the account. */
  ipBlacklist: string[]
  /** base64 HMAC key for JS-challenge cookies, shared by the account's nodes through the signed config. */
  challengeKey: string
}

export interface ApiKeyRecord {
  accountId: string
  prefix: string
}

export type ServerStatus = 'pending' | 'online' | 'offline' | 'error' | 'decommissioned'

export interface ServerRecord {
  id: string
  accountId: string
  name: string
  publicIp: string
  status: ServerStatus
  tokenHash: string
  tokenPrefix: string
  peerId: string
  multiaddrs: string[]
  createdAt: string
  enrolledAt: string | null
  /** Set by DELETE: the server stays in signed versions (status decommissioned) for the grace period. */
  decommissionedAt?: string | null
  /** Set when the grace period ended: the server left the signed config and its peer is cut. */
  cutAt?: string | null
}

/** A domain as configured: exactly the wire Domain (serverIds ordered, first = primary) plus bookkeeping. */
export interface DomainRecord extends Domain {
  accountId: string
  createdAt: string
  updatedAt: string
}

/** Per-account pointer to the newest signed version. */
export interface VersionHead {
  version: number
  hash: string
}
