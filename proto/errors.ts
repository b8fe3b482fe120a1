// Error codes shared by coordinator and nodes (wire format, signatures, validation).
// docs/errors.md documents every code of every catalog; test/errors-doc.test.ts keeps them in step.
export const SHARED_ERRORS = {
  MALFORMED_MESSAGE: 'Bytes that do not decode as the expected protobuf message.',
  BAD_SIGNATURE: 'An envelope whose ed25519 signature does not verify against the pinned coordinator key.',
  UNKNOWN_KEY: 'An envelope signed with a key id other than the pinned coordinator key.',
  BAD_PUBLIC_KEY: 'A stored or received coordinator public key that is not a valid ed25519 SPKI key.',
  WRONG_ACCOUNT: 'A config version for another account than the node belongs to.',
  STALE_VERSION: 'A config version not newer than the one already applied.',
  UNKNOWN_PEER: 'A mesh message (e.g. a heartbeat) from a peer outside the latest signed config, or claiming another peer identity.',
  INVALID_HOSTNAME: 'A hostname that is not a valid DNS name (HTTP 400).',
  INVALID_ORIGIN_IP: 'An origin address that is non-routable (0.0.0.0, 169.254/16, fe80::/10, multicast) or not an address/hostname (HTTP 400).',
  INVALID_PORT: 'A port outside 1-65535 (HTTP 400).',
  INVALID_CIDR: 'A blacklist entry that is not an IP address or CIDR block (HTTP 400).'
} as const
