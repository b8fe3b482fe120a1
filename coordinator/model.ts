// Records the coordinator stores (coordinator/store). Hostnames and addresses in them are
// already validated and normalized; secrets exist only as SHA-256 hashes plus a prefix.
import type { Origin } from '../proto/codec.ts'

export type Plan = 'free' | 'pro' | 'enterprise'
export const PLAN_SERVER_LIMIT: Readonly<Record<Plan, number>> = { free: 1, pro: 5, enterprise: 20 }

export interface Account {
  id: string
  name: string
  plan: Plan
  createdAt: string
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
}

export interface DomainRecord {
  id: string
  accountId: string
  hostname: string
  aliases: string[]
  /** Ordered: first = primary. */
  serverIds: string[]
  origins: Origin[]
  createdAt: string
  updatedAt: string
}

/** Per-account pointer to the newest signed version. */
export interface VersionHead {
  version: number
  hash: string
}
