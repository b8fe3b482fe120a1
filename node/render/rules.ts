// The contract between the renderer and the rule modules (WAF, bot protection, blacklist,
// rate limiting …). A per-domain module is a pure function of the domain and the node's
// context (run dir, templates dir, features) that returns the HAProxy lines for the domain's backend and any files it needs.
// Checks that would cost HAProxy a compiled regex or a loaded pattern file per backend run
// once per node in the shared frontend instead (a frontend module: every domain of the
// node in, frontend lines and a map of the domains concerned out), and their per-domain
// module only enforces the verdict in the backend.
import type { ConfigVersion, Domain } from '../../proto/codec.ts'
import type { HostIndex } from './host-map.ts'

/** Which frontend checks the node runs: decided once from all its domains. */
export interface NodeFeatures {
  /** Some domain of the node has waf.owasp on: the frontend inspects, backends deny. */
  waf: boolean
  /** Some domain blocks bad bots: the frontend matches the list, backends deny. */
  badBots: boolean
  /** Some domain has the JS challenge: the frontend checks cookies, backends serve the page. */
  challenge: boolean
}

export interface RuleContext {
  config: ConfigVersion
  /** Absolute path of haproxy-templates/ (static pattern files, Lua, pages). */
  templatesDir: string
  /** Absolute path of the node's HAProxy run dir (generated files live here). */
  runDir: string
  node: NodeFeatures
  /** The node's hosts sorted once per render, shared by the host maps; built on demand when absent. */
  hosts?: HostIndex
}

export interface DomainRules {
  /** `http-request …` (and similar) lines for the domain's backend, in evaluation order, without indentation. */
  backendLines: string[]
  /** Generated files, path relative to runDir → content. Paths must be stable per domain. */
  files: Record<string, string>
}

export interface FrontendRules {
  /** Lines for the shared frontend, after the host lookup and before use_backend, without indentation. */
  frontendLines: string[]
  /** Generated files (maps keyed by Host), path relative to runDir → content. */
  files: Record<string, string>
  /**
   * Whole config sections the frontend lines refer to (e.g. a backend holding only a stick
   * table), each "backend <name>" then its keywords indented by four spaces, lines joined
   * with "\n"; rendered after the domains' backends. Names must not clash with a backend's.
   */
  sections?: string[]
}

/**
 * Depends on the domain and ctx.runDir, ctx.templatesDir and ctx.node only (never on the rest
 * of ctx.config): the backend of a domain reused across versions is rendered once for them.
 */
export type RuleModule = (domain: Domain, ctx: RuleContext) => DomainRules

export const NO_RULES: Readonly<DomainRules> = Object.freeze({ backendLines: [], files: {} })
