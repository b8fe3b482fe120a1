// Planning runtime-API updates from the generated files: which changes HAProxy can take
// without a reload (map and ACL entries) and the exact commands, and which need a reload.
import t from 'tap'
import { planRuntimeUpdate } from '../../../node/apply/runtime-plan.ts'

const RUN = '/run/l'

t.test('map entries are added, changed and deleted by key', async t => {
  const before = { 'maps/hosts.map': 'a.example.com site_a\nb.example.com site_b\n' }
  const after = { 'maps/hosts.map': 'a.example.com site_c\nc.example.com site_a\n' }
  t.same(planRuntimeUpdate(RUN, before, after), [
    'set map /run/l/maps/hosts.map a.example.com site_c',
    'add map /run/l/maps/hosts.map c.example.com site_a',
    'del map /run/l/maps/hosts.map b.example.com'
  ])
})

t.test('ACL entries are added and deleted by value', async t => {
  const before = { 'acl/bl-account.acl': '10.0.0.0/8\n203.0.113.7\n', 'acl/bl-d.acl': '' }
  const after = { 'acl/bl-account.acl': '203.0.113.7\n2001:db8::/32\n', 'acl/bl-d.acl': '' }
  t.same(planRuntimeUpdate(RUN, before, after), ['add acl /run/l/acl/bl-account.acl 2001:db8::/32', 'del acl /run/l/acl/bl-account.acl 10.0.0.0/8'])
})

t.test('unchanged files need no command', async t => {
  t.same(planRuntimeUpdate(RUN, { 'maps/hosts.map': 'a b\n' }, { 'maps/hosts.map': 'a b\n' }), [])
})

t.test('a change to a file HAProxy cannot update at run time needs a reload', async t => {
  t.equal(planRuntimeUpdate(RUN, { 'errors/d-503.html': 'old' }, { 'errors/d-503.html': 'new' }), undefined)
  t.equal(planRuntimeUpdate(RUN, { 'certs/crt-list.txt': '' }, { 'certs/crt-list.txt': 'x\n' }), undefined)
})

t.test('a file the running HAProxy never loaded needs a reload', async t => {
  t.equal(planRuntimeUpdate(RUN, {}, { 'acl/bl-new.acl': '10.0.0.1\n' }), undefined)
})

t.test('spaces and semicolons in values are escaped for the CLI', async t => {
  t.same(planRuntimeUpdate(RUN, { 'acl/ua.acl': '' }, { 'acl/ua.acl': 'bad bot;x\n' }), ['add acl /run/l/acl/ua.acl bad\\ bot\\;x'])
})
