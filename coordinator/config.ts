// Reads the coordinator's settings from the environment once, validates them, applies
// defaults and freezes the result. Nothing else reads process.env.
import { resolve } from 'node:path'
import { HEARTBEAT_INTERVAL_MS } from '../proto/heartbeat.ts'
import { LumosError } from '../proto/lumos-error.ts'
import { LIVENESS_PRESETS, type LivenessParams } from '../node/liveness/constants.ts'
import { sha256Hex } from './api/auth.ts'
import { DEFAULT_HOLD_DOWN_MS, QUORUM_PRESETS } from './failover/constants.ts'
import type { QuorumTiming } from './failover/types.ts'

export interface CoordinatorConfig {
  dataDir: string
  httpHost: string
  httpPort: number
  p2pHost: string
  p2pPort: number
  /** SHA-256 of the admin key; the key itself is not kept. */
  adminKeyHash: string
  logLevel: string
  /** Interval of the head heartbeats (LUMOS_HEARTBEAT_MS); HEARTBEAT_INTERVAL_MS when omitted. */
  heartbeatIntervalMs?: number
  /** LUMOS_DECOMMISSION_GRACE_S: how long a decommissioned server keeps its connections; 3600 when omitted. */
  decommissionGraceS?: number
  /** LUMOS_LIVENESS_PRESET (lan | wan | seed, default lan): the coordinator's own failure detector and its quorum timing; LAN when omitted. */
  liveness?: LivenessParams
  quorum?: QuorumTiming
  /** DNS failover; undefined (failover off, said at startup) when LUMOS_CLOUDFLARE_TOKEN is not set. */
  failover?: FailoverConfig
}

export interface FailoverConfig {
  /** LUMOS_CLOUDFLARE_TOKEN: Zone:Read + DNS:Edit on the failover zones. Never logged. */
  cloudflareToken: string
  /** LUMOS_CLOUDFLARE_BASE_URL; the real API when omitted (tests point it at the fake). */
  cloudflareBaseUrl?: string
  /** LUMOS_FAILOVER_HOLD_DOWN_S: how long a recovered primary stays healthy before traffic moves back. */
  holdDownMs: number
}

const PRESET_NAMES = { lan: 'LAN', wan: 'WAN', seed: 'SEED_COMPAT' } as const

function livenessPreset (env: NodeJS.ProcessEnv): { liveness: LivenessParams, quorum: QuorumTiming } {
  const raw = (env.LUMOS_LIVENESS_PRESET ?? 'lan').trim().toLowerCase()
  if (!Object.hasOwn(PRESET_NAMES, raw)) throw new LumosError('BAD_CONFIG', `LUMOS_LIVENESS_PRESET=${env.LUMOS_LIVENESS_PRESET} must be lan, wan or seed`)
  const name = PRESET_NAMES[raw as keyof typeof PRESET_NAMES]
  return { liveness: LIVENESS_PRESETS[name], quorum: QUORUM_PRESETS[name] }
}

function failoverConfig (env: NodeJS.ProcessEnv): FailoverConfig | undefined {
  const rawHoldDown = env.LUMOS_FAILOVER_HOLD_DOWN_S
  const holdDownS = rawHoldDown === undefined || rawHoldDown === '' ? DEFAULT_HOLD_DOWN_MS / 1000 : Number(rawHoldDown)
  if (!Number.isFinite(holdDownS) || holdDownS < 0 || holdDownS > 86_400) throw new LumosError('BAD_CONFIG', `LUMOS_FAILOVER_HOLD_DOWN_S=${rawHoldDown} must be a number of seconds between 0 and 86400`)
  const token = (env.LUMOS_CLOUDFLARE_TOKEN ?? '').trim()
  if (token === '') return undefined
  const baseUrl = env.LUMOS_CLOUDFLARE_BASE_URL
  if (baseUrl !== undefined && baseUrl !== '' && !URL.canParse(baseUrl)) throw new LumosError('BAD_CONFIG', `LUMOS_CLOUDFLARE_BASE_URL=${baseUrl} is not a URL (e.g. https://api.cloudflare.com/client/v4)`)
  return Object.freeze({ cloudflareToken: token, cloudflareBaseUrl: baseUrl === '' ? undefined : baseUrl, holdDownMs: Math.round(holdDownS * 1000) })
}

function decommissionGraceS (env: NodeJS.ProcessEnv): number {
  const raw = env.LUMOS_DECOMMISSION_GRACE_S
  const value = raw === undefined || raw === '' ? 3600 : Number(raw)
  if (!Number.isFinite(value) || value < 0 || value > 30 * 86_400) throw new LumosError('BAD_CONFIG', `LUMOS_DECOMMISSION_GRACE_S=${raw} must be a number of seconds between 0 and 2592000`)
  return value
}

function port (env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new LumosError('BAD_CONFIG', `${name}=${raw} is not a port number (0-65535)`)
  return value
}

export function readCoordinatorConfig (env: NodeJS.ProcessEnv): Readonly<CoordinatorConfig> {
  const adminKey = env.LUMOS_ADMIN_KEY ?? ''
  if (adminKey.length < 16) throw new LumosError('BAD_CONFIG', 'set LUMOS_ADMIN_KEY to a secret of at least 16 characters (e.g. openssl rand -hex 24)')
  const heartbeatIntervalMs = env.LUMOS_HEARTBEAT_MS === undefined || env.LUMOS_HEARTBEAT_MS === '' ? HEARTBEAT_INTERVAL_MS : Number(env.LUMOS_HEARTBEAT_MS)
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 50 || heartbeatIntervalMs > 60_000) throw new LumosError('BAD_CONFIG', `LUMOS_HEARTBEAT_MS=${env.LUMOS_HEARTBEAT_MS} must be a whole number of milliseconds between 50 and 60000`)
  return Object.freeze({
    dataDir: resolve(env.LUMOS_DATA_DIR ?? './data/coordinator'),
    httpHost: env.LUMOS_HTTP_HOST ?? '127.0.0.1',
    httpPort: port(env, 'LUMOS_HTTP_PORT', 7700),
    p2pHost: env.LUMOS_P2P_HOST ?? '127.0.0.1',
    p2pPort: port(env, 'LUMOS_P2P_PORT', 7701),
    adminKeyHash: sha256Hex(adminKey),
    logLevel: env.LUMOS_LOG_LEVEL ?? 'info',
    heartbeatIntervalMs,
    decommissionGraceS: decommissionGraceS(env),
    ...livenessPreset(env),
    failover: failoverConfig(env)
  })
}
