// NodeStore (node/store/node-store.ts) on a real LevelDB directory: it keeps the last
// KEEP_VERSIONS versions, whatever order they arrive in, and what it holds survives a reopen.
import t from 'tap'
import { KEEP_VERSIONS, NodeStore } from '../../../node/store/node-store.ts'

const bytes = (version: number): Uint8Array => new TextEncoder().encode(`envelope ${version}`)

async function held (store: NodeStore, upTo: number): Promise<number[]> {
  const found: number[] = []
  for (let v = 1; v <= upTo; v++) if (await store.getVersion(v) !== undefined) found.push(v)
  return found
}

t.test('keeps the last KEEP_VERSIONS versions across puts, gaps and a reopen', async t => {
  const location = t.testdir()
  const store = new NodeStore(location)
  await store.open()
  t.equal(await store.latest(), undefined, 'an empty store has no latest version')
  for (let v = 1; v <= KEEP_VERSIONS + 5; v++) await store.putVersion(v, bytes(v))
  const last = KEEP_VERSIONS + 5
  t.same(await held(store, last), Array.from({ length: KEEP_VERSIONS }, (_, i) => i + 6), 'versions older than the last KEEP_VERSIONS are pruned')
  t.same(await store.latest(), { version: last, envelope: bytes(last) }, 'latest is the newest put')

  // A version that arrives late (a sync racing gossip) does not become the latest.
  await store.putVersion(last - 1, bytes(last - 1))
  t.equal((await store.latest())?.version, last)
  await store.close()

  const reopened = new NodeStore(location)
  await reopened.open()
  t.same(await reopened.latest(), { version: last, envelope: bytes(last) }, 'latest survives a reopen')
  // A jump (a node that was offline) prunes everything now out of range, also what it read at open.
  const jump = last + KEEP_VERSIONS + 3
  await reopened.putVersion(jump, bytes(jump))
  t.same(await held(reopened, jump), [jump], 'the old versions are pruned after a jump')
  await reopened.close()
})
