// Baseline for failure detection: HashiCorp serf (Debian package), N agents on loopback;
// one is killed with SIGKILL and we time until another agent reports it `failed`.
// Detection only — no DNS change — so it bounds what a gossip detector costs here.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { freePort, waitFor } from '../../scripts/fleet/local-fleet.ts'

const run = promisify(execFile)

interface Agent { name: string, bind: number, rpc: number, process: ChildProcess }

async function startAgent (name: string, join: number | undefined): Promise<Agent> {
  const [bind, rpc] = [await freePort(), await freePort()]
  const args = ['agent', '-node', name, '-bind', `127.0.0.1:${bind}`, '-rpc-addr', `127.0.0.1:${rpc}`, '-log-level', 'err']
  if (join !== undefined) args.push('-join', `127.0.0.1:${join}`)
  const child = spawn('serf', args, { stdio: 'ignore' })
  await waitFor(`serf agent ${name}`, async () => { await run('serf', ['members', '-rpc-addr', `127.0.0.1:${rpc}`]); return true }, 15_000)
  return { name, bind, rpc, process: child }
}

async function memberStatus (observer: Agent, name: string): Promise<string | undefined> {
  const { stdout } = await run('serf', ['members', '-rpc-addr', `127.0.0.1:${observer.rpc}`, '-format', 'json'])
  return (JSON.parse(stdout) as { members: Array<{ name: string, status: string }> }).members.find(m => m.name === name)?.status
}

/** Detection times (ms) of a killed member, one per trial, on a fresh `agents`-member cluster each time. */
export async function measureSerfDetection (agents: number, trials: number): Promise<number[]> {
  const samples: number[] = []
  for (let trial = 0; trial < trials; trial++) {
    const cluster: Agent[] = []
    try {
      for (let i = 0; i < agents; i++) cluster.push(await startAgent(`n${trial}-${i}`, cluster[0]?.bind))
      await waitFor('all serf members alive', async () => {
        for (const agent of cluster) if (await memberStatus(cluster[1] as Agent, agent.name) !== 'alive') return undefined
        return true
      }, 20_000)
      const victim = cluster[0] as Agent
      const killedAt = performance.now()
      victim.process.kill('SIGKILL')
      await waitFor('serf to report the killed member failed', async () => (await memberStatus(cluster[1] as Agent, victim.name)) === 'failed' ? true : undefined, 60_000)
      samples.push(performance.now() - killedAt)
    } finally {
      for (const agent of cluster) agent.process.kill('SIGKILL')
    }
  }
  return samples
}
