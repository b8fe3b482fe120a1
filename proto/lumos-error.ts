// The one error class of Lumos Gate. Every error carries a stable `code` from a catalog
// (coordinator/errors.ts, node/errors.ts, proto codes below) and a message that says what
// to do next. Match errors by `code`, never by message or instanceof across packages.

export interface LumosErrorOptions {
  cause?: unknown
  /** HTTP status when the error reaches an API client. */
  status?: number
  /** Extra machine-readable detail for API clients and logs. */
  details?: Record<string, unknown>
}

export class LumosError extends Error {
  readonly code: string
  readonly status: number
  readonly details: Record<string, unknown> | undefined

  constructor (code: string, message: string, options: LumosErrorOptions = {}) {
    super(message, { cause: options.cause })
    this.name = 'LumosError'
    this.code = code
    this.status = options.status ?? 500
    this.details = options.details
  }
}

export function isLumosError (err: unknown): err is LumosError {
  return err instanceof Error && err.name === 'LumosError' && typeof (err as LumosError).code === 'string'
}
