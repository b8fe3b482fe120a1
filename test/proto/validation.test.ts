import t from 'tap'
import { normalizeHostname, normalizeOriginAddress } from '../../proto/validation.ts'

t.test('hostnames are lower-cased and checked', async t => {
  t.equal(normalizeHostname(' Shop.Example.COM '), 'shop.example.com')
  for (const bad of ['localhost', 'exa mple.com', '-bad.example.com', 'a..b', 'example.123', 'x'.repeat(64) + '.com', 'shop.example.com\nbackend evil']) {
    t.throws(() => normalizeHostname(bad), { code: 'INVALID_HOSTNAME' }, bad)
  }
})

t.test('origin addresses: private ranges allowed, non-routable rejected', async t => {
  for (const ok of ['10.0.0.5', '172.16.3.4', '192.168.1.1', '127.0.0.1', '203.0.113.7', '2001:db8::1', 'origin.example.com']) {
    t.equal(normalizeOriginAddress(ok), ok, ok)
  }
  for (const bad of ['0.0.0.0', '169.254.10.1', 'fe80::1', 'FE80::abcd', '::', '224.0.0.1', 'not an address']) {
    t.throws(() => normalizeOriginAddress(bad), { code: 'INVALID_ORIGIN_IP' }, bad)
  }
})
