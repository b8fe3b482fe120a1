// Error catalog of the coordinator: stable code → HTTP status and what it means.
// API answers carry { code, message }; docs/errors.md lists every code.
import { LumosError } from '../proto/lumos-error.ts'

export const COORDINATOR_ERRORS = {
  UNAUTHORIZED: { status: 401, summary: 'Missing or unknown API key; send "Authorization: Bearer <key>".' },
  FORBIDDEN: { status: 403, summary: 'The API key belongs to another account, or the route needs the admin key.' },
  VALIDATION_FAILED: { status: 400, summary: 'The request body or parameters do not match the route schema.' },
  NOT_FOUND: { status: 404, summary: 'The account, server, domain or notification channel does not exist.' },
  PLAN_LIMIT: { status: 409, summary: 'The account plan allows no more servers; upgrade the plan or decommission a server.' },
  HOSTNAME_TAKEN: { status: 409, summary: 'Another domain already uses this hostname or alias.' },
  UNKNOWN_SERVER: { status: 400, summary: 'A domain lists a server id that is not an active server of the account.' },
  INVALID_TOKEN: { status: 401, summary: 'The connection token is unknown or its server was decommissioned; create a new server.' },
  TOKEN_ALREADY_USED: { status: 409, summary: 'The token was already enrolled by another node identity; decommission and re-create the server.' },
  INVALID_PEER_ID: { status: 400, summary: 'The libp2p peer id sent at enrollment does not parse.' },
  DNS_ZONE_NOT_FOUND: { status: 422, summary: 'The DNS provider has no zone of that name visible to the configured API token.' },
  DNS_INVALID_RECORD: { status: 400, summary: 'A DNS record name outside its zone, or an A record address that is not IPv4.' },
  DNS_AUTH_FAILED: { status: 502, summary: 'The DNS provider refused the configured API token (invalid, expired or missing DNS permissions).' },
  DNS_PROVIDER_FAILED: { status: 502, summary: 'The DNS provider answered with an error, or kept failing or timing out until the retry bound; DNS was left as it was.' },
  INVALID_WEBHOOK_URL: { status: 400, summary: 'A notification channel URL that does not parse or whose scheme is not http: or https:.' },
  CHANNEL_LIMIT: { status: 409, summary: 'The account already has the maximum number of notification channels; delete one first.' },
  FAILOVER_UNAVAILABLE: { status: 409, summary: 'DNS failover is off on this coordinator (LUMOS_CLOUDFLARE_TOKEN is not set), so a failover drill cannot move DNS.' },
  FAILOVER_NOT_ENABLED: { status: 409, summary: 'The domain is not in DNS failover (failover.enabled with a zone and record, and at least two servers), so there is nothing to drill.' },
  SERVER_NOT_ENROLLED: { status: 409, summary: 'The server has no mesh peer yet (never enrolled) or is decommissioned, so it cannot be partitioned.' },
  INTERNAL: { status: 500, summary: 'An unexpected failure inside the coordinator; the details are in its log, not in the answer.' }
} as const

export type CoordinatorErrorCode = keyof typeof COORDINATOR_ERRORS

export function coordinatorError (code: CoordinatorErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown): LumosError {
  return new LumosError(code, message, { status: COORDINATOR_ERRORS[code].status, details, cause })
}
