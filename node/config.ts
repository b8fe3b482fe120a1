// Reads the shield node's settings from the environment once, validates them and freezes
// the result. Nothing else reads process.env.
import { resolve } from 'node:path'
import { LumosError } from '../proto/lumos-error.ts'
import { LIVENESS_PRESETS, type LivenessParams } from './liveness/constants.ts'

export interface NodeConfig {
  /** One-time connection token; needed only until the node is enrolled. */
  token: string | undefined
  coordinatorUrl: string
  dataDir: string
  httpBind: string
  /** HAProxy bind address for HTTPS (LUMOS_HTTPS_BIND, default ':443'). */
  httpsBind: string
  p2pHost: string
  p2pPort: number
  haproxyBinary: string
  templateFile: string
  logLevel: string
  /** Stop HAProxy too when the daemon stops (demo/tests; production keeps serving). */
  stopHaproxyOnExit: boolean
  /** Heartbeat interval (LUMOS_HEARTBEAT_MS); the liveness preset's when omitted (HEARTBEAT_INTERVAL_MS without one). */
  heartbeatIntervalMs?: number
  /** Failure-detector preset (LUMOS_LIVENESS_PRESET: lan | wan | seed, default lan); DEFAULT_LIVENESS (LAN) when omitted. */
  liveness?: LivenessParams
  /** How long an older version may still come from an honest peer (node/late-copies.ts); no variable: tests shorten it. */
  lateCopyWindowMs?: number
}

const PRESET_NAMES = { lan: 'LAN', wan: 'WAN', seed: 'SEED_COMPAT' } as const

export function readNodeConfig (env: NodeJS.ProcessEnv): Readonly<NodeConfig> {
  const coordinatorUrl = env.LUMOS_COORDINATOR ?? ''
  try {
    const url = new URL(coordinatorUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)')
  } catch {
    throw new LumosError('BAD_CONFIG', `set LUMOS_COORDINATOR to the coordinator URL, e.g. https://lumos.example.com (got "${coordinatorUrl}")`)
  }
  const p2pPort = Number(env.LUMOS_P2P_PORT ?? 7702)
  if (!Number.isInteger(p2pPort) || p2pPort < 0 || p2pPort > 65535) throw new LumosError('BAD_CONFIG', `LUMOS_P2P_PORT=${env.LUMOS_P2P_PORT} is not a port number`)
  const preset = (env.LUMOS_LIVENESS_PRESET ?? 'lan').trim().toLowerCase()
  if (!Object.hasOwn(PRESET_NAMES, preset)) throw new LumosError('BAD_CONFIG', `LUMOS_LIVENESS_PRESET=${env.LUMOS_LIVENESS_PRESET} must be lan, wan or seed`)
  const liveness = LIVENESS_PRESETS[PRESET_NAMES[preset as keyof typeof PRESET_NAMES]]
  // Heartbeats at the pace the failure detector of the preset expects (its peers run the same preset).
  const heartbeatIntervalMs = env.LUMOS_HEARTBEAT_MS === undefined || env.LUMOS_HEARTBEAT_MS === '' ? liveness.heartbeatIntervalMs : Number(env.LUMOS_HEARTBEAT_MS)
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 50 || heartbeatIntervalMs > 60_000) throw new LumosError('BAD_CONFIG', `LUMOS_HEARTBEAT_MS=${env.LUMOS_HEARTBEAT_MS} must be a whole number of milliseconds between 50 and 60000`)
  const httpBind = env.LUMOS_HTTP_BIND ?? ':80'
  if (!/^[0-9a-fA-F.:[\]]*:\d{1,5}$/.test(httpBind)) throw new LumosError('BAD_CONFIG', `LUMOS_HTTP_BIND=${httpBind} must look like 127.0.0.1:8080 or :80`)
  const httpsBind = env.LUMOS_HTTPS_BIND ?? ':443'
  if (!/^[0-9a-fA-F.:[\]]*:\d{1,5}$/.test(httpsBind)) throw new LumosError('BAD_CONFIG', `LUMOS_HTTPS_BIND=${httpsBind} must look like 127.0.0.1:8443 or :443`)
  const dataDir = resolve(env.LUMOS_DATA_DIR ?? '/var/lib/lumos')
  // HAProxy refuses unix socket paths over 97 bytes; its sockets live in <dataDir>/haproxy.
  if (`${dataDir}/haproxy/master.sock`.length > 97) throw new LumosError('BAD_CONFIG', `LUMOS_DATA_DIR=${dataDir} is too long for HAProxy's socket paths; use a directory path of at most 78 characters`)
  return Object.freeze({
    token: env.LUMOS_TOKEN === '' ? undefined : env.LUMOS_TOKEN,
    coordinatorUrl: coordinatorUrl.replace(/\/+$/, ''),
    dataDir,
    httpBind,
    httpsBind,
    p2pHost: env.LUMOS_P2P_HOST ?? '0.0.0.0',
    p2pPort,
    haproxyBinary: env.LUMOS_HAPROXY_BIN ?? 'haproxy',
    templateFile: resolve(env.LUMOS_TEMPLATE ?? new URL('../haproxy-templates/haproxy.cfg.tpl', import.meta.url).pathname),
    logLevel: env.LUMOS_LOG_LEVEL ?? 'info',
    stopHaproxyOnExit: env.LUMOS_STOP_HAPROXY === '1',
    heartbeatIntervalMs,
    liveness
  })
}
