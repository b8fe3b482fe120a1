// DnsProvider: the narrow interface the failover engine uses to point a hostname at shield
// servers. One adapter per provider (coordinator/dns/cloudflare-dns.ts); the engine and its
// tests see only this file. Every method converges the provider to a desired state and is
// safe to repeat: calling it again after success changes nothing and writes nothing.

/** What one call did to the A records of `name`; `changed` is false when nothing was written. */
export interface DnsChange {
  zone: string
  name: string
  /** A record addresses before the call, sorted. */
  before: string[]
  /** A record addresses after the call, sorted. */
  after: string[]
  changed: boolean
}

export interface DnsCallOptions {
  /** Aborts the call, retries included; the provider's state is whatever was reached. */
  signal?: AbortSignal
}

export interface DnsProvider {
  /** Addresses of the A records of `name` (the full hostname, inside `zone`), sorted. */
  getARecords (zone: string, name: string, options?: DnsCallOptions): Promise<string[]>
  /**
   * Failover mode: make `ip` the only A record of `name`. Updates the existing record in
   * place (no moment without a record), creates it when missing, deletes any extra ones.
   */
  setARecord (zone: string, name: string, ip: string, options?: DnsCallOptions): Promise<DnsChange>
  /** Round-robin mode: make sure an A record `name` → `ip` exists, keeping the others. */
  addARecord (zone: string, name: string, ip: string, options?: DnsCallOptions): Promise<DnsChange>
  /** Round-robin mode: make sure no A record `name` → `ip` exists, keeping the others. */
  removeARecord (zone: string, name: string, ip: string, options?: DnsCallOptions): Promise<DnsChange>
}
