// Readable random ids: a type prefix and 12 hex chars (acc_…, srv_…, dom_…, chn_… webhook
// channels, dlv_… webhook deliveries, fev_… failover events).
import { randomBytes } from 'node:crypto'

export function newId (prefix: 'acc' | 'srv' | 'dom' | 'chn' | 'dlv' | 'fev'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}
