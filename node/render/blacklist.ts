// IP blacklist rules of a domain: clients whose address is in the account-wide list or in
// the domain's own list get 403. Both lists are ACL files at stable paths, referenced
// even when empty, so adding or removing an entry later is a runtime-API change (`add acl`
// / `del acl`) and never needs a reload.
import type { ConfigVersion, Domain } from '../../proto/codec.ts'
import { ACCOUNT_BLACKLIST, domainBlacklist, inRunDir } from './layout.ts'
import type { DomainRules, RuleModule } from './rules.ts'

/** One entry per line, sorted and de-duplicated: the runtime diff compares lines. */
export function aclFileContent (entries: readonly string[]): string {
  const lines = [...new Set(entries.map(entry => entry.trim()).filter(entry => entry !== ''))].sort()
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}

/** The account-wide list, rendered once per node (not per domain). */
export function accountBlacklistFiles (config: ConfigVersion): Record<string, string> {
  return { [ACCOUNT_BLACKLIST]: aclFileContent(config.accountIpBlacklist) }
}

export const blacklistRules: RuleModule = (domain: Domain, ctx): DomainRules => {
  const own = domainBlacklist(domain.id)
  return {
    backendLines: [`http-request deny deny_status 403 if { src -f ${inRunDir(ctx.runDir, ACCOUNT_BLACKLIST)} } || { src -f ${inRunDir(ctx.runDir, own)} }`],
    files: { [own]: aclFileContent(domain.waf.ipBlacklist) }
  }
}
