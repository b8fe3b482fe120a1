// Pure rendering of a ConfigVersion into the HAProxy files of one shield node.
// Deterministic: the same version, server and paths give byte-identical output (domains
// sorted by hostname, no timestamps), so an unchanged config never triggers a reload.
import { createHash } from 'node:crypto'
import type { ConfigVersion, Domain } from '../../proto/codec.ts'

export interface RenderPaths {
  /** Directory holding the rendered files and HAProxy sockets. */
  runDir: string
  /** Absolute path the host→backend map will live at. */
  mapFile: string
}

export interface RenderInput {
  config: ConfigVersion
  /** The server this node is: only domains assigned to it are rendered. */
  serverId: string
  /** HAProxy bind line for plain HTTP, e.g. "127.0.0.1:8081" or ":80". */
  httpBind: string
  paths: RenderPaths
  template: string
}

export interface RenderedConfig {
  haproxyCfg: string
  hostsMap: string
  /** sha256 over both files: equal hash means nothing to reload. */
  hash: string
  domainCount: number
}

export function backendName (domain: Domain): string {
  return `site_${domain.id}`
}

function renderBackend (domain: Domain): string {
  const lines = [``, `backend ${backendName(domain)}`, `    # ${domain.hostname}`, `    balance roundrobin`, `    option httpchk GET /`, `    http-check expect rstatus ^[2-4]`]
  domain.origins.forEach((origin, index) => {
    const address = origin.address.includes(':') ? `[${origin.address}]` : origin.address
    const tls = origin.tls ? ` ssl verify none sni str(${domain.hostname})` : ''
    lines.push(`    server origin${index + 1} ${address}:${origin.port} weight ${origin.weight} check inter 2s fall 3 rise 2${tls}`)
  })
  return lines.join('\n')
}

export function assignedDomains (config: ConfigVersion, serverId: string): Domain[] {
  return config.domains
    .filter(domain => domain.serverIds.includes(serverId))
    .sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)
}

export function renderHaproxyConfig (input: RenderInput): RenderedConfig {
  const domains = assignedDomains(input.config, input.serverId)
  const values: Record<string, string> = {
    ACCOUNT: input.config.accountId,
    RUN_DIR: input.paths.runDir,
    MAP_FILE: input.paths.mapFile,
    HTTP_BIND: input.httpBind,
    BACKENDS: domains.map(renderBackend).join('\n')
  }
  const haproxyCfg = input.template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`template placeholder {{${key}}} has no value`)
    return value
  })
  const hostsMap = domains
    .flatMap(domain => [domain.hostname, ...domain.aliases].map(host => `${host} ${backendName(domain)}`))
    .sort()
    .join('\n') + '\n'
  const hash = createHash('sha256').update(haproxyCfg).update('\0').update(hostsMap).digest('hex')
  return { haproxyCfg, hostsMap, hash, domainCount: domains.length }
}
