// The contract between the renderer and the per-domain rule modules (WAF, bot protection,
// blacklist, rate limiting …). Each module is a pure function of the domain and the signed
// config that returns the HAProxy lines for the domain's backend and any files it needs.
import type { ConfigVersion, Domain } from '../../proto/codec.ts'

export interface RuleContext {
  config: ConfigVersion
  /** Absolute path of haproxy-templates/ (static pattern files, Lua, pages). */
  templatesDir: string
  /** Absolute path of the node's HAProxy run dir (generated files live here). */
  runDir: string
}

export interface DomainRules {
  /** `http-request …` (and similar) lines for the domain's backend, in evaluation order, without indentation. */
  backendLines: string[]
  /** Generated files, path relative to runDir → content. Paths must be stable per domain. */
  files: Record<string, string>
}

export type RuleModule = (domain: Domain, ctx: RuleContext) => DomainRules

export const NO_RULES: Readonly<DomainRules> = Object.freeze({ backendLines: [], files: {} })
