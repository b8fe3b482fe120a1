// Reads the coordinator's settings from the environment once, validates them, applies
// defaults and freezes the result. Nothing else reads process.env.
import { resolve } from 'node:path'
import { HEARTBEAT_INTERVAL_MS } from '../proto/heartbeat.ts'
import { LumosError } from '../proto/lumos-error.ts'
import { sha256Hex } from './api/auth.ts'

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
    heartbeatIntervalMs
  })
}
