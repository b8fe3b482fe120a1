import { pino } from 'pino'
import t from 'tap'
import { CatchUp, pickSource, retryDelayMs, type Claim } from '../../../node/mesh/catch-up.ts'

const logger = pino({ level: 'silent' })
const claim = (version: number, extra: Partial<Claim> = {}): Claim => ({ version, failures: 0, notBefore: 0, givenUp: false, ...extra })

async function until (what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

t.test('pickSource chooses the highest live claim above the held version', async t => {
  const claims = new Map([['a', claim(5)], ['b', claim(9)], ['c', claim(12, { givenUp: true })], ['d', claim(3)]])
  t.same(pickSource(claims, 4, 1000), { peerId: 'b', claim: claim(9) })
  t.equal(pickSource(claims, 9, 1000), undefined, 'nothing newer than held except a given-up claim')
})

t.test('pickSource waits for the earliest claim in backoff', async t => {
  const claims = new Map([['a', claim(5, { notBefore: 1300 })], ['b', claim(9, { notBefore: 1100 })]])
  t.same(pickSource(claims, 4, 1000), { waitMs: 100 })
})

t.test('retry delays double per failure up to the cap, with jitter between half and all of it', async t => {
  const retry = { baseMs: 100, maxMs: 1000, attempts: 5 }
  t.same([1, 2, 3, 4, 5, 6].map(n => retryDelayMs(n, retry, 0.999999)), [100, 200, 400, 800, 1000, 1000])
  t.same([1, 2, 3, 4, 5].map(n => retryDelayMs(n, retry, 0)), [50, 100, 200, 400, 500])
})

t.test('claims arriving during a sync coalesce into one more sync, from the highest claimer, never two at once', async t => {
  let held = 1
  let inFlight = 0
  let maxInFlight = 0
  const calls: string[] = []
  const claims = new Map([['a', 3], ['b', 7], ['c', 5]])
  const catchUp = new CatchUp({
    heldVersion: () => held,
    fetchFrom: async (peerId) => {
      calls.push(peerId)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      await new Promise(resolve => setTimeout(resolve, 20))
      held = Math.max(held, claims.get(peerId) ?? 0)
      inFlight--
    },
    logger,
    claimGraceMs: 0
  })
  t.teardown(async () => { await catchUp.stop() })
  catchUp.noteClaim('a', 3) // starts a sync from a
  catchUp.noteClaim('c', 5)
  catchUp.noteClaim('b', 7)
  catchUp.noteClaim('b', 7)
  await until('held version 7', () => held === 7 && inFlight === 0)
  t.same(calls, ['a', 'b'], 'one sync from a, then one from the highest claimer; c is covered by b')
  t.equal(maxInFlight, 1, 'at most one sync in flight')
})

t.test('a peer that claims a version and never delivers it is retried a bounded number of times', async t => {
  const calls: string[] = []
  const catchUp = new CatchUp({
    heldVersion: () => 1,
    fetchFrom: async (peerId) => { calls.push(peerId); throw new Error('nothing verifiable') },
    logger,
    retry: { baseMs: 1, maxMs: 2, attempts: 3 },
    claimGraceMs: 0
  })
  t.teardown(async () => { await catchUp.stop() })
  catchUp.noteClaim('liar', 9)
  await until('three attempts', () => calls.length >= 3)
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(calls.length, 3, 'gave up after three attempts')
  catchUp.noteClaim('liar', 9)
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(calls.length, 3, 'the same claim again does not restart the retries')
  catchUp.noteClaim('liar', 10)
  await until('a fresh attempt for a higher claim', () => calls.length === 4)
  t.pass('a higher claim is tried again')
})

t.test('a claim waits out its grace: a version that arrives meanwhile (by gossip) costs no sync, a missing one is synced after it', async t => {
  let held = 1
  let now = 1000
  const calls: string[] = []
  const catchUp = new CatchUp({
    heldVersion: () => held,
    fetchFrom: async (peerId) => { calls.push(peerId); held = 3 },
    logger,
    claimGraceMs: 40,
    now: () => now
  })
  t.teardown(async () => { await catchUp.stop() })
  catchUp.noteClaim('a', 2)
  now += 20
  catchUp.noteClaim('a', 3)
  held = 2 // version 2 arrives by gossip within the grace
  await new Promise(resolve => setTimeout(resolve, 10))
  t.same(calls, [], 'no sync during the grace')
  now += 25 // 45 ms after the first claim: the higher claim kept the first deadline
  await until('the sync of version 3, which gossip did not bring', () => calls.length === 1, 1000)
  t.same(calls, ['a'])
  t.equal(held, 3)

  calls.length = 0
  catchUp.noteClaim('b', 4)
  held = 4 // delivered by gossip before the grace ends
  now += 50
  await new Promise(resolve => setTimeout(resolve, 80))
  t.same(calls, [], 'a version gossip delivered within the grace is not fetched')
})
