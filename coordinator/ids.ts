// Readable random ids: a type prefix and 12 hex chars (acc_…, srv_…, dom_…).
import { randomBytes } from 'node:crypto'

export function newId (prefix: 'acc' | 'srv' | 'dom'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`
}
