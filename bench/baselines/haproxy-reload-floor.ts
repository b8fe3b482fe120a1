// The least a reload change can take on this machine: the fleet's own HAProxy configs, each
// checked (`haproxy -c`) and reloaded through its master at the same moment, as every node
// does for such a change, with no node process, gossip or render in the way. Run on the
// nodes' run dirs once the fleet is stopped (the configs and ports are theirs). Also the
// machine's CPU per wave: when the cores are the limit, wall time ≈ CPU / cores.
import { readFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import type { HaproxyControl } from '../../node/haproxy/haproxy-control.ts'

export interface ReloadFloor {
  /** Each wave: the first check started → a new worker confirmed on every HAProxy. */
  wavesMs: number[]
  /** Busy CPU time of the whole machine per wave (all cores). */
  machineCpuMsPerWave: number
  cores: number
}

/** Milliseconds of busy CPU on the whole machine since boot (/proc/stat). */
async function machineBusyMs (): Promise<number> {
  const fields = (await readFile('/proc/stat', 'utf8')).split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? []
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields
  return (user + nice + system + irq + softirq) * 10
}

export async function measureReloadFloor (haproxies: readonly HaproxyControl[], waves: number): Promise<ReloadFloor> {
  await Promise.all(haproxies.map(async haproxy => await haproxy.start()))
  try {
    // The workers' start (first health checks, Lua states) is not part of a wave.
    await new Promise(resolve => setTimeout(resolve, 1000))
    const wavesMs: number[] = []
    const busyBefore = await machineBusyMs()
    for (let wave = 0; wave < waves; wave++) {
      const started = performance.now()
      await Promise.all(haproxies.map(async haproxy => {
        await haproxy.check(haproxy.paths.configFile)
        await haproxy.reload()
      }))
      wavesMs.push(performance.now() - started)
      // Old workers exit right after a wave; the next wave starts on a quiet machine, as a change does.
      await new Promise(resolve => setTimeout(resolve, 300))
    }
    const machineCpuMsPerWave = Math.round((await machineBusyMs() - busyBefore) / waves)
    return { wavesMs, machineCpuMsPerWave, cores: cpus().length }
  } finally {
    await Promise.all(haproxies.map(async haproxy => { await haproxy.stop() }))
  }
}
