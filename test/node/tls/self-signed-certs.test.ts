// SelfSignedCerts with the real openssl CLI: one certificate per request covering its
// names, cached on disk, remade when the names change or expiry nears, and an issued
// (not self-signed) certificate at the same path left alone.
import { readFileSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import t from 'tap'
import { parseCertificate, SelfSignedCerts } from '../../../node/tls/self-signed-certs.ts'

const request = { file: 'certs/dom_a.pem', hostnames: ['shop.example.com', 'www.shop.example.com'] }

t.test('a certificate is made once with the hostname as CN and every name in the SAN', async t => {
  const dir = t.testdir()
  const certs = new SelfSignedCerts({ runDir: dir })
  t.same(await certs.ensure([request]), ['certs/dom_a.pem'])
  const pem = readFileSync(join(dir, request.file), 'utf8')
  t.match(pem, /PRIVATE KEY/, 'the PEM holds the key for HAProxy')
  const cert = new X509Certificate(pem)
  t.equal(cert.subject, 'CN=shop.example.com')
  t.equal(cert.subjectAltName, 'DNS:shop.example.com, DNS:www.shop.example.com')
  t.same(await certs.ensure([request]), [], 'the second call makes nothing')
  t.same(await new SelfSignedCerts({ runDir: dir }).ensure([request]), [], 'a restarted node reuses the file on disk')
})

t.test('a new alias or a near expiry makes a new certificate', async t => {
  const dir = t.testdir()
  await new SelfSignedCerts({ runDir: dir }).ensure([request])
  const wider = { ...request, hostnames: [...request.hostnames, 'shop.example.net'] }
  t.same(await new SelfSignedCerts({ runDir: dir }).ensure([wider]), ['certs/dom_a.pem'])
  t.match(parseCertificate(readFileSync(join(dir, request.file), 'utf8'))?.names, ['shop.example.com', 'www.shop.example.com', 'shop.example.net'])
  const later = new SelfSignedCerts({ runDir: dir, now: () => Date.now() + 380 * 86_400_000 })
  t.same(await later.ensure([wider]), ['certs/dom_a.pem'], 'renewed 30 days before expiry')
})

t.test('a certificate issued by a CA (ACME) is never replaced by a self-signed one', async t => {
  const dir = t.testdir()
  const ca = new SelfSignedCerts({ runDir: dir })
  await ca.ensure([{ file: 'ca.pem', hostnames: ['ca.invalid'] }])
  // Sign a leaf with the "CA" through openssl, as an ACME client would store it.
  const { execFileSync } = await import('node:child_process')
  const caPem = join(dir, 'ca.pem')
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'leaf.key'), '-out', join(dir, 'leaf.csr'), '-subj', '/CN=shop.example.com'])
  execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'leaf.csr'), '-CA', caPem, '-CAkey', caPem, '-CAcreateserial', '-out', join(dir, 'leaf.crt'), '-days', '90'])
  const issued = `${readFileSync(join(dir, 'leaf.crt'), 'utf8')}${readFileSync(join(dir, 'leaf.key'), 'utf8')}`
  writeFileSync(join(dir, 'certs-dom_a.pem'), issued)
  t.same(await new SelfSignedCerts({ runDir: dir }).ensure([{ file: 'certs-dom_a.pem', hostnames: request.hostnames }]), [])
  t.equal(readFileSync(join(dir, 'certs-dom_a.pem'), 'utf8'), issued)
})

t.test('an openssl failure is a TLS_CERT_FAILED error', async t => {
  const certs = new SelfSignedCerts({ runDir: t.testdir(), openssl: '/bin/false' })
  await t.rejects(certs.ensure([request]), { code: 'TLS_CERT_FAILED' })
})
