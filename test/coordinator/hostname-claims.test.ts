// HostnameClaims: claims of overlapping hostnames run one after the other, in call order;
// claims of other hostnames do not wait for them; a failed claim frees its names.
import t from 'tap'
import { HostnameClaims } from '../../coordinator/api/hostname-claims.ts'

/** A claim that records when it ran and ends only when `finish` is called. */
function pending (log: string[], name: string): { claim: () => Promise<string>, finish: () => void } {
  const { promise, resolve } = Promise.withResolvers<void>()
  return { claim: async () => { log.push(`${name} start`); await promise; log.push(`${name} end`); return name }, finish: resolve }
}
const tick = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

t.test('overlapping claims wait in call order; disjoint ones run at once', async t => {
  const claims = new HostnameClaims()
  const log: string[] = []
  const a = pending(log, 'a'); const b = pending(log, 'b'); const c = pending(log, 'c')
  const runs = [
    claims.run(['x.example.com', 'y.example.com'], a.claim),
    claims.run(['y.example.com'], b.claim),
    claims.run(['z.example.com'], c.claim)
  ]
  await tick()
  t.same(log, ['a start', 'c start'], 'b waits for a (both claim y); c claims z and runs at once')
  b.finish()
  c.finish()
  await tick()
  t.same(log, ['a start', 'c start', 'c end'], 'b still waits while a holds y')
  a.finish()
  t.same(await Promise.all(runs), ['a', 'b', 'c'])
  t.same(log, ['a start', 'c start', 'c end', 'a end', 'b start', 'b end'])
})

t.test('a claim that throws frees its names for the next one', async t => {
  const claims = new HostnameClaims()
  const failed = claims.run(['x.example.com'], async () => { throw new Error('HOSTNAME_TAKEN') })
  const next = claims.run(['x.example.com'], async () => 'next')
  await t.rejects(failed, /HOSTNAME_TAKEN/)
  t.equal(await next, 'next')
})
