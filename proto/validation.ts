// Validation of operator-supplied domain settings, shared by the coordinator (API input)
// and nodes (defence in depth before rendering). Pure functions; errors carry stable codes.
import { isIP } from 'node:net'
import { LumosError } from './lumos-error.ts'

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/

/** Lower-cases and checks a DNS hostname (at least two labels, no trailing dot). */
export function normalizeHostname (input: string): string {
  const hostname = input.trim().toLowerCase()
  const labels = hostname.split('.')
  const valid = hostname.length <= 253 && labels.length >= 2 && labels.every(label => LABEL.test(label)) &&
    !/^[0-9]+$/.test(labels[labels.length - 1] ?? '')
  if (!valid) {
    throw new LumosError('INVALID_HOSTNAME', `"${input}" is not a valid hostname: use letters, digits and hyphens in dot-separated labels, like shop.example.com`, { status: 400 })
  }
  return hostname
}

function ipv4ToInt (ip: string): number {
  return ip.split('.').reduce((acc, part) => (acc * 256) + Number(part), 0)
}

function inIpv4Cidr (ip: string, base: string, bits: number): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
  return ((ipv4ToInt(ip) & mask) >>> 0) === ((ipv4ToInt(base) & mask) >>> 0)
}

/** Non-routable targets an origin may never point at (private ranges and loopback are fine). */
function rejectedOriginReason (address: string): string | null {
  const family = isIP(address)
  if (family === 4) {
    if (address === '0.0.0.0') return 'the unspecified address'
    if (inIpv4Cidr(address, '169.254.0.0', 16)) return 'link-local (169.254.0.0/16)'
    if (inIpv4Cidr(address, '224.0.0.0', 4)) return 'multicast'
    if (address === '255.255.255.255') return 'broadcast'
    return null
  }
  const lower = address.toLowerCase()
  if (lower === '::') return 'the unspecified address'
  if (/^fe[89ab]/.test(lower)) return 'link-local (fe80::/10)'
  if (lower.startsWith('ff')) return 'multicast'
  return null
}

/** Accepts an IPv4/IPv6 literal or a hostname; returns its canonical form. */
export function normalizeOriginAddress (input: string): string {
  const address = input.trim().toLowerCase()
  if (isIP(address) !== 0) {
    const reason = rejectedOriginReason(address)
    if (reason !== null) {
      throw new LumosError('INVALID_ORIGIN_IP', `origin address ${input} is ${reason} and cannot serve traffic; use a public or private (10/8, 172.16/12, 192.168/16, 127/8) address`, { status: 400 })
    }
    return address
  }
  try {
    return normalizeHostname(address)
  } catch (err) {
    throw new LumosError('INVALID_ORIGIN_IP', `origin address "${input}" is neither an IP address nor a hostname`, { status: 400, cause: err })
  }
}

export function checkPort (port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new LumosError('INVALID_PORT', `${what} port ${port} is outside 1-65535`, { status: 400 })
  }
  return port
}

/** An IP or CIDR for blacklists: "203.0.113.7", "10.0.0.0/8", "2001:db8::/32". */
export function normalizeCidr (input: string): string {
  const [address = '', prefix, extra] = input.trim().toLowerCase().split('/')
  const family = isIP(address)
  const max = family === 4 ? 32 : 128
  const bits = prefix === undefined ? max : Number(prefix)
  if (family === 0 || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > max || (prefix !== undefined && !/^\d+$/.test(prefix))) {
    throw new LumosError('INVALID_CIDR', `"${input}" is not an IP address or CIDR block like 203.0.113.0/24`, { status: 400 })
  }
  return prefix === undefined ? address : `${address}/${bits}`
}
