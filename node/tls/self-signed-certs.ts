// Self-signed certificates for the HTTPS bind, one per TLS domain (hostname + aliases) and
// the node's default one, made with the `openssl` CLI (Node's crypto cannot issue X.509)
// and cached on disk under runDir/certs as PEM (certificate + key, mode 0600). They stand
// in until the ACME client puts an issued certificate at the same path: a certificate not
// signed by itself is never overwritten here. Runs before rendering, since `haproxy -c`
// needs every file of the crt-list.
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { LumosError } from '../../proto/lumos-error.ts'
import { writeFileAtomic } from '../../proto/peer-key-file.ts'
import type { CertificateRequest } from '../render/tls.ts'

const execFileAsync = promisify(execFile)
const DAY_MS = 86_400_000

export interface SelfSignedCertsInit {
  runDir: string
  /** The openssl binary; 'openssl' from PATH by default. */
  openssl?: string
  /** Validity of a new certificate (default 397 days, the browsers' maximum). */
  validityDays?: number
  /** A self-signed certificate closer than this to expiry is replaced (default 30 days). */
  renewBeforeDays?: number
  /** Parallel openssl processes on a first start with many domains (default 4). */
  concurrency?: number
  now?: () => number
}

export class SelfSignedCerts {
  private readonly init: Required<SelfSignedCertsInit>
  /** file → names it was last found or made to cover, with its expiry: skips disk on later applies. */
  private readonly known = new Map<string, { names: string, notAfterMs: number }>()

  constructor (init: SelfSignedCertsInit) {
    this.init = { openssl: 'openssl', validityDays: 397, renewBeforeDays: 30, concurrency: 4, now: Date.now, ...init }
  }

  /** Makes sure every requested certificate exists and covers its names; returns the files it (re)made. */
  async ensure (requests: readonly CertificateRequest[]): Promise<string[]> {
    const made: string[] = []
    const queue = [...requests]
    const worker = async (): Promise<void> => {
      for (let request = queue.shift(); request !== undefined; request = queue.shift()) {
        if (await this.ensureOne(request)) made.push(request.file)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.init.concurrency, queue.length) }, worker))
    return made.sort()
  }

  private fresh (entry: { names: string, notAfterMs: number } | undefined, names: string): boolean {
    return entry !== undefined && entry.names === names && entry.notAfterMs - this.init.now() > this.init.renewBeforeDays * DAY_MS
  }

  private async ensureOne (request: CertificateRequest): Promise<boolean> {
    const names = request.hostnames.join(' ')
    if (this.fresh(this.known.get(request.file), names)) return false
    const path = join(this.init.runDir, request.file)
    const existing = await readFile(path, 'utf8').then(parseCertificate, () => undefined)
    if (existing !== undefined && (!existing.selfSigned || this.fresh({ names: coveredNames(existing.names, request.hostnames), notAfterMs: existing.notAfterMs }, names))) {
      // An issued (ACME) certificate is kept as it is; its renewal is the ACME client's job.
      this.known.set(request.file, { names, notAfterMs: existing.selfSigned ? existing.notAfterMs : Number.POSITIVE_INFINITY })
      return false
    }
    await this.generate(path, request.hostnames)
    this.known.set(request.file, { names, notAfterMs: this.init.now() + this.init.validityDays * DAY_MS })
    return true
  }

  private async generate (path: string, hostnames: readonly string[]): Promise<void> {
    const [first = 'lumos'] = hostnames
    const dir = await mkdtemp(join(this.init.runDir, 'certs-tmp-'))
    try {
      const keyFile = join(dir, 'key.pem')
      const certFile = join(dir, 'cert.pem')
      // A CN is limited to 64 characters; the SAN list is what clients check anyway.
      const subject = first.length <= 64 ? `/CN=${first}` : '/O=Lumos Gate'
      await execFileAsync(this.init.openssl, [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', keyFile, '-out', certFile, '-days', String(this.init.validityDays),
        '-subj', subject, '-addext', `subjectAltName=${hostnames.map(name => `DNS:${name}`).join(',')}`
      ], { timeout: 30_000 })
      const pem = `${await readFile(certFile, 'utf8')}${await readFile(keyFile, 'utf8')}`
      await writeFileAtomic(path, pem, 0o600)
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim() ?? ''
      throw new LumosError('TLS_CERT_FAILED', `could not create a self-signed certificate for ${hostnames.join(', ')} at ${path}: ${stderr.slice(0, 500) || (err as Error).message}`, { cause: err })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
}

interface ParsedCertificate { names: string[], notAfterMs: number, selfSigned: boolean }

/** The DNS names, expiry and self-signedness of the first certificate of a PEM with a key. */
export function parseCertificate (pem: string): ParsedCertificate | undefined {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return undefined
  try {
    const cert = new X509Certificate(pem)
    const names = (cert.subjectAltName ?? '').split(',').map(entry => entry.trim()).filter(entry => entry.startsWith('DNS:')).map(entry => entry.slice(4))
    return { names, notAfterMs: Date.parse(cert.validTo), selfSigned: cert.issuer === cert.subject && cert.checkIssued(cert) }
  } catch {
    return undefined
  }
}

/** The requested names, in request order, if the certificate covers all of them; '' otherwise. */
function coveredNames (has: readonly string[], wanted: readonly string[]): string {
  return wanted.every(name => has.includes(name)) ? wanted.join(' ') : ''
}
