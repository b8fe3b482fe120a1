// Random packet loss on loopback ports, for fault tests and benches (tc netem is missing from
// these kernels): iptables `statistic` rules on lo that drop `probability` of the TCP
// packets to and from each port, removed again when the body ends, also when it throws.
// Needs root and iptables; only the given ports are touched, so other loopback traffic
// (the HTTP API, HAProxy, other tests) is not.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The iptables rule specs (without -I/-D) dropping `probability` of the packets to and from each port on lo. */
function lossRules (ports: number[], probability: number): string[][] {
  if (!(probability > 0 && probability <= 1)) throw new Error(`packet loss probability ${probability} must be in (0, 1]`)
  return ports.flatMap(port => ['--dport', '--sport'].map(dir => ['INPUT', '-i', 'lo', '-p', 'tcp', dir, String(port), '-m', 'statistic', '--mode', 'random', '--probability', String(probability), '-j', 'DROP']))
}

/** Packets the loss rules of `ports` dropped so far (iptables counters), to show the fault really happened. */
export async function droppedPackets (ports: number[]): Promise<number> {
  const { stdout } = await run('iptables', ['-L', 'INPUT', '-v', '-n', '-x'])
  const ours = new Set(ports.flatMap(port => [`dpt:${port}`, `spt:${port}`]))
  return stdout.split('\n')
    .filter(line => line.includes('statistic') && line.split(/\s+/).some(word => ours.has(word)))
    .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[0]), 0)
}

export async function withPacketLoss<T> (ports: number[], probability: number, body: () => Promise<T>): Promise<T> {
  const rules = lossRules(ports, probability)
  const inserted: string[][] = []
  try {
    for (const rule of rules) {
      await run('iptables', ['-I', ...rule])
      inserted.push(rule)
    }
    return await body()
  } finally {
    for (const rule of inserted) await run('iptables', ['-D', ...rule]).catch(() => {})
  }
}
