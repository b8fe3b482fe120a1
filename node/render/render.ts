// Pure rendering of a ConfigVersion into the HAProxy files of one shield node: haproxy.cfg
// plus the generated files it references (host map, blacklist map, error pages, crt-list,
// and whatever the rule modules need), all at stable paths under runDir (node/render/layout.ts).
// One shared frontend routes by Host; node-wide checks (blacklist lookup, WAF inspection,
// bot checks) sit in it once, driven by maps keyed by Host, and each domain gets a backend
// with its own rules and the verdicts (node/render/backend.ts) — see node/render/rules.ts.
// Deterministic: the same version, server, binds and paths give byte-identical output
// (domains sorted by hostname, files by path, no timestamps), so an unchanged config
// never triggers a reload.
import { createHash } from 'node:crypto'
import type { ConfigVersion, Domain } from '../../proto/codec.ts'
import { DEFAULT_TIMEOUTS } from '../../proto/domain-settings.ts'
import { blacklistFrontendRules } from './blacklist.ts'
import { backendName, clientTimeoutMs, haproxyDuration, renderBackend } from './backend.ts'
import { botFrontendRules } from './bot-protection.ts'
import { CRT_LIST, DEFAULT_CERT, HOSTS_MAP, inRunDir } from './layout.ts'
import type { FrontendRules, NodeFeatures, RuleContext } from './rules.ts'
import { certificateRequests, crtListContent, type CertificateRequest } from './tls.ts'
import { wafFrontendRules } from './waf.ts'

export { backendName } from './backend.ts'

export interface RenderPaths {
  /** Directory holding the rendered files and HAProxy sockets. */
  runDir: string
  /** Absolute path of haproxy-templates/ (Lua, pattern lists, pages): {{TEMPLATES_DIR}} in the template. */
  templatesDir: string
}

export interface RenderInput {
  config: ConfigVersion
  /** The server this node is: only domains assigned to it are rendered. */
  serverId: string
  /** HAProxy bind address for plain HTTP, e.g. "127.0.0.1:8081" or ":80". */
  httpBind: string
  /** HAProxy bind address for HTTPS, e.g. "127.0.0.1:8443" or ":443". */
  httpsBind: string
  paths: RenderPaths
  template: string
}

export interface RenderedConfig {
  haproxyCfg: string
  /** Generated files: path relative to runDir → content, sorted by path. */
  files: Record<string, string>
  /** The host → backend map (also in `files` under maps/hosts.map). */
  hostsMap: string
  /** Certificates the config references; they must exist before `haproxy -c`. */
  certificates: CertificateRequest[]
  /** sha256 over the config, every file and the certificate names: equal hash means nothing to do. */
  hash: string
  domainCount: number
}

export function assignedDomains (config: ConfigVersion, serverId: string): Domain[] {
  return config.domains
    .filter(domain => domain.serverIds.includes(serverId))
    .sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)
}

function hostsMapContent (domains: readonly Domain[]): string {
  const lines = domains
    .flatMap(domain => [...new Set([domain.hostname, ...domain.aliases])].map(host => `${host} ${backendName(domain)}`))
    .sort()
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

function sortedByPath (files: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(files).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
}

export function renderHaproxyConfig (input: RenderInput): RenderedConfig {
  const { runDir, templatesDir } = input.paths
  const domains = assignedDomains(input.config, input.serverId)
  const node: NodeFeatures = {
    waf: domains.some(domain => domain.waf.owasp),
    badBots: domains.some(domain => domain.bot.blockBadBots),
    challenge: domains.some(domain => domain.bot.jsChallenge)
  }
  const ctx: RuleContext = { config: input.config, runDir, templatesDir, node }
  // Frontend modules in evaluation order, each rendered once from all the node's domains.
  const frontend: FrontendRules[] = [blacklistFrontendRules(input.config, domains, ctx), wafFrontendRules(domains, ctx), botFrontendRules(domains, ctx)]
  const backends = domains.map(domain => renderBackend(domain, ctx))
  const hostsMap = hostsMapContent(domains)
  const files = sortedByPath(Object.assign(
    { [HOSTS_MAP]: hostsMap, [CRT_LIST]: crtListContent(domains, runDir) },
    ...frontend.map(rules => rules.files),
    ...backends.map(backend => backend.files)
  ))
  // The client timeout belongs to the frontend (HAProxy 2.6 cannot set it per backend):
  // the longest any domain of this node asks for, so no domain's clients are cut early.
  const clientMs = Math.max(DEFAULT_TIMEOUTS.clientMs, ...domains.map(clientTimeoutMs))
  const values: Record<string, string> = {
    ACCOUNT: input.config.accountId,
    RUN_DIR: runDir,
    TEMPLATES_DIR: templatesDir,
    MAP_FILE: inRunDir(runDir, HOSTS_MAP),
    CRT_LIST: inRunDir(runDir, CRT_LIST),
    DEFAULT_CERT: inRunDir(runDir, DEFAULT_CERT),
    HTTP_BIND: input.httpBind,
    HTTPS_BIND: input.httpsBind,
    CLIENT_TIMEOUT: haproxyDuration(clientMs),
    FRONTEND_RULES: frontend.flatMap(rules => rules.frontendLines).map(line => `    ${line}`).join('\n'),
    BACKENDS: backends.map(backend => backend.backendLines.join('\n')).join('\n')
  }
  // A placeholder alone on its line with nothing to insert takes its line with it.
  const template = input.template.replace(/^\{\{([A-Z_]+)\}\}\n/gm, (line, key: string) => values[key] === '' ? '' : line)
  const haproxyCfg = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`template placeholder {{${key}}} has no value`)
    return value
  })
  const certificates = certificateRequests(domains)
  const hash = createHash('sha256').update(haproxyCfg)
  for (const [path, content] of Object.entries(files)) hash.update(`\0${path}\0`).update(content)
  for (const cert of certificates) hash.update(`\0${cert.file}\0${cert.hostnames.join(' ')}`)
  return { haproxyCfg, files, hostsMap, certificates, hash: hash.digest('hex'), domainCount: domains.length }
}
