// node/heap-release.ts: once applies are quiet, the heap a large apply grew is given back
// with one full GC; small growth and bursts of applies do not each cost a GC.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { pino } from 'pino'
import t from 'tap'
import { HeapRelease } from '../../node/heap-release.ts'
import { NODE_V8_FLAGS } from '../../node/runtime-flags.ts'

const MB = 1024 * 1024
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function fakeHeap (): { heap: { bytes: number }, collects: number[], release: HeapRelease } {
  const heap = { bytes: 20 * MB }
  const collects: number[] = []
  const release = new HeapRelease({
    logger: pino({ level: 'silent' }),
    quietMs: 150,
    growthBytes: 16 * MB,
    heapBytes: () => heap.bytes,
    collect: () => { collects.push(heap.bytes); heap.bytes = 24 * MB }
  })
  return { heap, collects, release }
}

t.test('a burst of applies that grew the heap releases it once, after the burst', async t => {
  const { heap, collects, release } = fakeHeap()
  for (let i = 0; i < 5; i++) {
    heap.bytes += 8 * MB
    release.applied()
    await sleep(20)
  }
  t.same(collects, [], 'nothing while applies keep coming')
  await sleep(300)
  t.same(collects, [60 * MB], 'one full GC once they stopped')
  heap.bytes = 35 * MB
  release.applied()
  await sleep(300)
  t.same(collects.length, 1, 'growth is counted from the heap the release left (24 MB), not from the start')
  heap.bytes = 41 * MB
  release.applied()
  await sleep(300)
  t.same(collects, [60 * MB, 41 * MB], '17 MB above it: released again')
  release.stop()
})

t.test('small growth costs no GC, and stop() cancels a pending release', async t => {
  const { heap, collects, release } = fakeHeap()
  heap.bytes += 15 * MB
  release.applied()
  await sleep(300)
  t.same(collects, [], '15 MB of growth is left to V8')
  heap.bytes += 10 * MB
  release.applied()
  release.stop()
  await sleep(300)
  t.same(collects, [], 'stopped before the quiet period ended')
})

t.test('without an exposed gc, applies schedule nothing', async t => {
  const release = new HeapRelease({ logger: pino({ level: 'silent' }), quietMs: 1, heapBytes: () => 1000 * MB, collect: undefined })
  release.applied()
  await sleep(20)
  t.pass('no timer, no throw')
  release.stop()
})

t.test('in a process with the daemon\'s V8 flags, the heap a large allocation grew is given back', async t => {
  // A child with NODE_V8_FLAGS builds ~100 MB of objects (more than a 10 000-domain decode
  // does), drops them, and reports its heap before and after the quiet period.
  const script = `
    import { HeapRelease } from ${JSON.stringify(new URL('../../node/heap-release.ts', import.meta.url).href)}
    import { getHeapStatistics } from 'node:v8'
    import { pino } from 'pino'
    const lines = []
    const logger = pino({ level: 'info' }, { write: (line) => { lines.push(JSON.parse(line)) } })
    const release = new HeapRelease({ logger, quietMs: 50 })
    let big = Array.from({ length: 400000 }, (_, i) => ({ id: 'domain-' + i, origins: [{ host: '10.0.0.' + (i % 250), port: 8000 + (i % 100) }] }))
    const before = getHeapStatistics().total_heap_size
    release.applied()
    // Dropped just before the quiet period ends, so that it is the release, not a GC V8 runs
    // on its own meanwhile, that frees it.
    setTimeout(() => { big = undefined }, 40)
    await new Promise(resolve => setTimeout(resolve, 300))
    console.log(JSON.stringify({ before, after: getHeapStatistics().total_heap_size, lines }))
  `
  const run = promisify(execFile)
  const { stdout } = await run(process.execPath, [...NODE_V8_FLAGS, '--input-type=module', '-e', script], { cwd: new URL('../..', import.meta.url).pathname })
  const { before, after, lines } = JSON.parse(stdout) as { before: number, after: number, lines: Array<{ msg: string, heapMB: number, heapAfterMB: number }> }
  t.ok(before > 60 * MB, `the allocation grew the heap (${Math.round(before / MB)} MB)`)
  t.ok(after < before / 2, `released: ${Math.round(before / MB)} → ${Math.round(after / MB)} MB`)
  const released = lines.filter(l => l.msg === 'heap released after a large apply')
  t.equal(released.length, 1, 'logged once')
  t.ok((released[0]?.heapAfterMB ?? Infinity) < (released[0]?.heapMB ?? 0) / 2, `with the sizes: ${JSON.stringify(released[0])}`)
})
