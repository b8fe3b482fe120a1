// Error catalog of the shield node. docs/errors.md lists every code.
export const NODE_ERRORS = {
  BAD_CONFIG: 'A setting in the environment is missing or malformed; the message names it.',
  NOT_ENROLLED: 'The node has no enrollment and no LUMOS_TOKEN to enroll with.',
  ENROLL_FAILED: 'The coordinator refused the enrollment or could not be reached; the message carries its answer.',
  HAPROXY_INVALID_CONFIG: 'haproxy -c rejected the rendered config; the previous config keeps serving.',
  HAPROXY_START_FAILED: 'The haproxy binary could not be started; its output is in the message.',
  HAPROXY_RELOAD_FAILED: 'HAProxy did not confirm a new worker after reload; the previous config was restored.',
  HAPROXY_UNRESPONSIVE: 'The HAProxy master socket accepts connections but does not answer; the apply is retried.',
  HAPROXY_RUNTIME_FAILED: 'HAProxy refused a runtime API change (map/ACL entry); the node falls back to a full reload.',
  TLS_CERT_FAILED: 'A self-signed certificate could not be made with the openssl CLI; the version is not applied.',
  STORE_CORRUPT: 'The node store could not be opened or read; it is moved aside and the node re-syncs from peers.'
} as const
