// npm run bench -- <name> [options]: runs one harness (or all, without a name). Each writes
// its results to bench/results/. Harnesses start real processes on loopback only.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const HARNESSES: Record<string, string> = {
  'envelope-size': 'envelope-size.ts',
  propagation: 'propagation/run.ts',
  gossip: 'gossip/run.ts',
  dataplane: 'dataplane/run.ts',
  render: 'render/run.ts',
  memory: 'memory/run.ts',
  waf: 'waf/run.ts',
  bot: 'bot/run.ts',
  failover: 'failover/run.ts',
  coordinator: 'coordinator/run.ts'
}

const [name, ...args] = process.argv.slice(2)
const selected = name === undefined ? Object.keys(HARNESSES) : [name]
for (const harness of selected) {
  const file = HARNESSES[harness]
  if (file === undefined) {
    console.error(`unknown benchmark "${harness}"; choose one of: ${Object.keys(HARNESSES).join(', ')}`)
    process.exit(2)
  }
  console.log(`== bench ${harness}`)
  const result = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url)), ...args], { stdio: 'inherit' })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
