// Where the generated files of a shield node live, relative to its HAProxy run dir. Paths
// are stable per domain (never content-addressed) so HAProxy's runtime API can update a
// map or ACL by the same file name the config references, and a restart reads the same
// files back. One place so the renderer, the applier and the cert module agree.
import { join } from 'node:path'

export const HOSTS_MAP = 'maps/hosts.map'
/** Host → WAF paranoia of the domains with WAF on (node/render/waf.ts). */
export const WAF_MAP = 'maps/waf.map'
/** Host → 1 for the domains blocking bad bots, Host → challenge TTL for those with the JS challenge (node/render/bot-protection.ts). */
export const BOT_BLOCK_MAP = 'maps/bot-block.map'
export const BOT_CHALLENGE_MAP = 'maps/bot-challenge.map'
/** Every IP blacklist of the node (account-wide and per domain) as one map_ip map (node/render/blacklist.ts). */
export const BLACKLIST_MAP = 'maps/blacklist.map'
export const BLACKLIST_SETS_MAP = 'maps/blacklist-sets.map'
export const CRT_LIST = 'certs/crt-list.txt'
export const DEFAULT_CERT = 'certs/default.pem'

export function domainCert (domainId: string): string { return `certs/${domainId}.pem` }
export function errorPageFile (domainId: string, status: number): string { return `errors/${domainId}-${status}.html` }

/** Folders whose files are all generated: a file there that a version no longer renders is stale (acl/ held the blacklists of earlier versions). */
export const GENERATED_DIRS = ['maps', 'acl', 'errors'] as const

/** How HAProxy can take a changed file without a reload (runtime API), if at all. */
export type RuntimeKind = 'map' | 'acl' | undefined
export function runtimeKind (relativePath: string): RuntimeKind {
  if (relativePath.startsWith('maps/') && relativePath.endsWith('.map')) return 'map'
  if (relativePath.startsWith('acl/') && relativePath.endsWith('.acl')) return 'acl'
  return undefined
}

/** The HAProxy backend of a domain; the host map's values. */
export function backendName (domain: { id: string }): string { return `site_${domain.id}` }

/** An empty, "." or ".." segment (or a leading "/"): join() would rewrite the path, not just append it. */
const IRREGULAR_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/
let lastRunDir: string | undefined
let lastPrefix = ''

/**
 * join(runDir, relativePath), called tens of thousands of times per render with one runDir:
 * the normalized run dir is computed once and plain relative paths are appended to it.
 */
export function inRunDir (runDir: string, relativePath: string): string {
  if (IRREGULAR_SEGMENT.test(relativePath)) return join(runDir, relativePath)
  if (runDir !== lastRunDir) {
    // join(runDir, "x") minus the "x": the normalized run dir with its trailing separator ('' for "." and "").
    lastPrefix = join(runDir, 'x').slice(0, -1)
    lastRunDir = runDir
  }
  return lastPrefix + relativePath
}
