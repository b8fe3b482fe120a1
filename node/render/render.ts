// Pure rendering of a ConfigVersion into the HAProxy files of one shield node: haproxy.cfg
// plus the generated files it references (host map, blacklist map, error pages, crt-list,
// and whatever the rule modules need), all at stable paths under runDir (node/render/layout.ts).
// One shared frontend routes by Host; node-wide checks (blacklist lookup, WAF inspection,
// bot checks) sit in it once, driven by maps keyed by Host, and each domain gets a backend
// with its own rules and the verdicts (node/render/backend.ts) — see node/render/rules.ts.
// Deterministic: the same version, server, binds and paths give byte-identical output
// (domains sorted by hostname, files by path, no timestamps), so an unchanged config
// never triggers a reload.
import { createHash, type Hash } from 'node:crypto'
import type { ConfigVersion, Domain } from '../../proto/codec.ts'
import { DEFAULT_TIMEOUTS } from '../../proto/domain-settings.ts'
import { blacklistFrontendRules } from './blacklist.ts'
import { backendName, clientTimeoutMs, haproxyDuration, renderBackend } from './backend.ts'
import { botFrontendRules } from './bot-protection.ts'
import { hostIndex, hostMapText } from './host-map.ts'
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
  /** The frontend checks the node runs, which its backends were rendered for. */
  features: NodeFeatures
}

export function assignedDomains (config: ConfigVersion, serverId: string): Domain[] {
  return config.domains
    .filter(domain => domain.serverIds.includes(serverId))
    .sort((a, b) => a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)
}

/** The text's bytes into the hash as UTF-8. Pure ASCII (the usual case) goes as latin1, the same bytes, several times faster for large strings. */
function hashText (hash: Hash, text: string): void {
  hash.update(text, Buffer.byteLength(text, 'utf8') === text.length ? 'latin1' : 'utf8')
}

/**
 * Small files go to the hash joined in strings of about this many characters: fewer native
 * calls than one per file, and each string stays a regular heap object (a string over
 * ~128 KB is a large object: fresh pages from the OS every time, slow to fault in).
 */
const HASH_CHUNK = 1 << 15

const PLACEHOLDER = /\{\{([A-Z_]+)\}\}/g

/**
 * The template with {{KEY}} placeholders replaced by `values`; a placeholder alone on its
 * line with nothing to insert takes its line with it. Joined once: values may be ropes
 * (the backends), copied here into the one large string a render makes.
 */
function fillTemplate (template: string, values: Record<string, string>): string {
  const text = template.replace(/^\{\{([A-Z_]+)\}\}\n/gm, (line, key: string) => values[key] === '' ? '' : line)
  const parts: string[] = []
  let last = 0
  for (const match of text.matchAll(PLACEHOLDER)) {
    const value = values[match[1]!]
    if (value === undefined) throw new Error(`template placeholder {{${match[1]!}}} has no value`)
    parts.push(text.slice(last, match.index), value)
    last = match.index + match[0].length
  }
  parts.push(text.slice(last))
  return parts.join('')
}

export function renderHaproxyConfig (input: RenderInput): RenderedConfig {
  const { runDir, templatesDir } = input.paths
  const domains = assignedDomains(input.config, input.serverId)
  const node: NodeFeatures = {
    waf: domains.some(domain => domain.waf.owasp),
    badBots: domains.some(domain => domain.bot.blockBadBots),
    challenge: domains.some(domain => domain.bot.jsChallenge)
  }
  const hosts = hostIndex(domains)
  const ctx: RuleContext = { config: input.config, runDir, templatesDir, node, hosts }
  // Frontend modules in evaluation order, each rendered once from all the node's domains.
  // Bot protection stays last: its challenge lines end the frontend's rules with
  // `http-request allow` (node/render/bot-protection.ts), which would skip any line after them.
  const frontend: FrontendRules[] = [blacklistFrontendRules(input.config, domains, ctx), wafFrontendRules(domains, ctx), botFrontendRules(domains, ctx)]
  const hostsMap = hostMapText(hosts, backendName)
  // Path → content; a later file of the same path wins.
  const collected = new Map<string, string>([[HOSTS_MAP, hostsMap], [CRT_LIST, crtListContent(domains, runDir)]])
  for (const rules of frontend) for (const path in rules.files) collected.set(path, rules.files[path]!)
  // Backends: "\nbackend …" sections separated by an empty line.
  let backends = ''
  for (let i = 0; i < domains.length; i++) {
    if (i > 0) backends += '\n'
    backends += renderBackend(domains[i]!, ctx, collected)
  }
  // Sections of the frontend modules (a stick table of verified cookies …), after the backends.
  for (const rules of frontend) for (const section of rules.sections ?? []) backends += `${backends === '' ? '' : '\n'}\n${section}`
  const files: Record<string, string> = {}
  for (const path of [...collected.keys()].sort()) files[path] = collected.get(path)!
  // The client timeout belongs to the frontend (HAProxy 2.6 cannot set it per backend):
  // the longest any domain of this node asks for, so no domain's clients are cut early.
  let clientMs = DEFAULT_TIMEOUTS.clientMs
  for (const domain of domains) clientMs = Math.max(clientMs, clientTimeoutMs(domain))
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
    BACKENDS: backends
  }
  const haproxyCfg = fillTemplate(input.template, values)
  const certificates = certificateRequests(domains)
  // sha256 over haproxy.cfg, then "\0<path>\0<content>" per file, then "\0<cert file>\0<names>" per certificate.
  const hash = createHash('sha256')
  hashText(hash, haproxyCfg)
  let pending: string[] = []
  let pendingLength = 0
  const flush = (): void => {
    hashText(hash, pending.join(''))
    pending = []
    pendingLength = 0
  }
  const feed = (text: string): void => {
    if (text.length >= HASH_CHUNK) {
      flush()
      hashText(hash, text)
      return
    }
    pending.push(text)
    pendingLength += text.length
    if (pendingLength >= HASH_CHUNK) flush()
  }
  for (const path in files) { feed(`\0${path}\0`); feed(files[path]!) }
  for (const cert of certificates) feed(`\0${cert.file}\0${cert.hostnames.join(' ')}`)
  flush()
  return { haproxyCfg, files, hostsMap, certificates, hash: hash.digest('hex'), domainCount: domains.length, features: node }
}
