// Preloaded into the fleet's processes by bench/memory (NODE_OPTIONS=--import): on SIGUSR2
// writes this process's memory figures to <LUMOS_BENCH_MEMORY_DIR>/memory-<pid>.json, so
// the harness reads a node's V8 heap from outside without any code in the product for it.
// With LUMOS_BENCH_MEMORY_GC=1 it first runs a full GC, to tell live data from garbage.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

const dir = process.env.LUMOS_BENCH_MEMORY_DIR
if (dir !== undefined) {
  process.on('SIGUSR2', () => {
    if (process.env.LUMOS_BENCH_MEMORY_GC === '1') {
      setFlagsFromString('--expose-gc')
      ;(runInNewContext('gc') as () => void)()
    }
    const usage = process.memoryUsage()
    const heap = getHeapStatistics()
    writeFileSync(join(dir, `memory-${process.pid}.json`), JSON.stringify({ at: Date.now(), usage, heap }))
  })
}
