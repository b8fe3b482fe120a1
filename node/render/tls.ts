// TLS termination layout of a node, pure: which certificates it needs (one per domain with
// TLS on, covering hostname + aliases, plus the node's default certificate for clients
// without a matching SNI) and the crt-list the HTTPS bind loads. The certificate files
// themselves are made by node/tls/ (self-signed until ACME issues one) before rendering.
import type { Domain } from '../../proto/codec.ts'
import { DEFAULT_CERT, domainCert, inRunDir } from './layout.ts'

export interface CertificateRequest {
  /** Path relative to runDir of the PEM (certificate chain + key). */
  file: string
  /** DNS names the certificate must cover; the first is its subject CN. */
  hostnames: string[]
}

/** The default certificate's name: never a real host, so no client mistakes it for a site's. */
export const DEFAULT_CERT_NAME = 'lumos-default.invalid'

export function certificateRequests (domains: readonly Domain[]): CertificateRequest[] {
  return [
    { file: DEFAULT_CERT, hostnames: [DEFAULT_CERT_NAME] },
    ...domains.filter(domain => domain.tls.enabled).map(domain => ({
      file: domainCert(domain.id),
      hostnames: [domain.hostname, ...[...new Set(domain.aliases)].filter(alias => alias !== domain.hostname).sort()]
    }))
  ]
}

/**
 * One line per TLS domain: the certificate and the SNI names it answers for (explicit, so
 * routing does not depend on what an ACME-issued certificate happens to list).
 */
export function crtListContent (domains: readonly Domain[], runDir: string): string {
  const lines = certificateRequests(domains).slice(1).map(request => `${inRunDir(runDir, request.file)} ${request.hostnames.join(' ')}`)
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`
}
