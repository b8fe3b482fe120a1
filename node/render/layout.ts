// Where the generated files of a shield node live, relative to its HAProxy run dir. Paths
// are stable per domain (never content-addressed) so HAProxy's runtime API can update a
// map or ACL by the same file name the config references, and a restart reads the same
// files back. One place so the renderer, the applier and the cert module agree.
import { join } from 'node:path'

export const HOSTS_MAP = 'maps/hosts.map'
export const ACCOUNT_BLACKLIST = 'acl/bl-account.acl'
export const CRT_LIST = 'certs/crt-list.txt'
export const DEFAULT_CERT = 'certs/default.pem'

export function domainBlacklist (domainId: string): string { return `acl/bl-${domainId}.acl` }
export function domainCert (domainId: string): string { return `certs/${domainId}.pem` }
export function errorPageFile (domainId: string, status: number): string { return `errors/${domainId}-${status}.html` }

/** Folders whose files are all generated: a file there that a version no longer renders is stale. */
export const GENERATED_DIRS = ['maps', 'acl', 'errors'] as const

/** How HAProxy can take a changed file without a reload (runtime API), if at all. */
export type RuntimeKind = 'map' | 'acl' | undefined
export function runtimeKind (relativePath: string): RuntimeKind {
  if (relativePath.startsWith('maps/') && relativePath.endsWith('.map')) return 'map'
  if (relativePath.startsWith('acl/') && relativePath.endsWith('.acl')) return 'acl'
  return undefined
}

export function inRunDir (runDir: string, relativePath: string): string { return join(runDir, relativePath) }
