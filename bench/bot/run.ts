// bench/bot: what the JS challenge costs a verified client. wrk (bounded, 10 s per run)
// sends browser-like GETs carrying a valid lumos_chk cookie through a real HAProxy with
// the challenge off and on, twice: answered by HAProxy itself (the rules' own cost, no
// origin in the way) and by a loopback Node origin (what a site sees).
// Writes bench/results/bot.json. Run: node bench/bot/run.ts
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { cpus } from 'node:os'
import { promisify } from 'node:util'
import { POW_BITS } from '../../node/render/bot-protection.ts'
import { BROWSER_HEADERS, get, solvePow, startOrigin, startShield } from '../../test/node/render/bot-harness.ts'

const run = promisify(execFile)
const DURATION_S = 10
const THREADS = 2
const CONNECTIONS = 50

interface Row {
  answeredBy: 'haproxy' | 'origin'
  challenge: 'off' | 'on'
  requestsPerS: number
  latencyP50Ms: number
  latencyP99Ms: number
  non2xx: number
  /** HAProxy CPU (user + system) per request: steadier than req/s on a shared machine. */
  haproxyCpuUsPerRequest: number
}

/** CPU seconds (user + system) used so far by a process, from /proc/<pid>/stat. */
async function cpuSeconds (pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

function ms (value: string, unit: string): number {
  const factor = unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1
  return Math.round(Number(value) * factor * 100) / 100
}

/** Parses `wrk --latency` output. */
export function parseWrk (out: string): Omit<Row, 'answeredBy' | 'challenge' | 'haproxyCpuUsPerRequest'> {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out)
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out)
  if (rps?.[1] === undefined || p50?.[1] === undefined || p99?.[1] === undefined) throw new Error(`unexpected wrk output:\n${out}`)
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1]
  return { requestsPerS: Math.round(Number(rps[1])), latencyP50Ms: ms(p50[1], p50[2] ?? 'ms'), latencyP99Ms: ms(p99[1], p99[2] ?? 'ms'), non2xx: Number(non2xx ?? 0) }
}

/**
 * A lumos_chk cookie earned the way a browser earns it (challenge page, proof of work) on
 * its own origin-backed shield; being signed with the account key, it passes on the others.
 */
async function earnCookie (key: Uint8Array, originPort: number): Promise<string> {
  const shield = await startShield({ jsChallenge: true }, key, originPort)
  try {
    return await solveOn(shield.port)
  } finally {
    await shield.stop()
  }
}

async function solveOn (port: number): Promise<string> {
  const page = await get(port)
  const value = (name: string): string => (new RegExp(`var ${name} = "([^"]*)"`).exec(page.body) ?? [])[1] ?? ''
  const solved = await get(port, { headers: { cookie: `lumos_pow=${value('bucket')}.${solvePow(value('challenge'), POW_BITS)}` } })
  const cookie = (solved.headers['set-cookie'] ?? []).find(line => line.startsWith('lumos_chk='))?.split(';')[0]
  if (solved.status !== 200 || cookie === undefined) throw new Error(`no cookie issued (status ${solved.status})`)
  return cookie
}

async function measure (answeredBy: Row['answeredBy'], challenge: Row['challenge'], key: Uint8Array, originPort: number, earned: string): Promise<Row> {
  const shield = await startShield({ jsChallenge: challenge === 'on' }, key, originPort, answeredBy === 'haproxy')
  try {
    // The same cookie everywhere: HAProxy rejects an unverified one on the "on" shields.
    const cookie = earned
    const check = await get(shield.port, { headers: { cookie } })
    if (check.status !== 200) throw new Error(`the cookie does not pass (status ${check.status})`)
    // wrk adds its own Host unless given one spelled "Host": header names are capitalized.
    const headers = Object.entries({ ...BROWSER_HEADERS, cookie }).map(([name, value]) => `${name.replace(/(^|-)[a-z]/g, c => c.toUpperCase())}: ${value}`)
    const args = ['-t', String(THREADS), '-c', String(CONNECTIONS), '-d', `${DURATION_S}s`, '--timeout', '2s', '--latency',
      ...headers.flatMap(header => ['-H', header]), `http://127.0.0.1:${shield.port}/`]
    const cpuBefore = await cpuSeconds(shield.pid)
    const { stdout } = await run('wrk', args, { timeout: (DURATION_S + 20) * 1000 })
    const cpu = await cpuSeconds(shield.pid) - cpuBefore
    const wrk = parseWrk(stdout)
    const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? wrk.requestsPerS * DURATION_S)
    const row: Row = { answeredBy, challenge, ...wrk, haproxyCpuUsPerRequest: Math.round(cpu * 1e6 / requests * 10) / 10 }
    if (row.non2xx > 0) throw new Error(`${row.non2xx} answers were not 2xx: the cookie did not pass:\n${stdout}`)
    return row
  } finally {
    await shield.stop()
  }
}

async function main (): Promise<void> {
  const key = randomBytes(32)
  const origin = await startOrigin()
  const rows: Row[] = []
  try {
    const cookie = await earnCookie(key, origin.port)
    for (const answeredBy of ['haproxy', 'origin'] as const) {
      for (const challenge of ['off', 'on'] as const) {
        rows.push(await measure(answeredBy, challenge, key, origin.port, cookie))
        process.stdout.write(`${JSON.stringify(rows.at(-1))}\n`)
      }
    }
  } finally {
    await origin.close()
  }
  const { stdout: version } = await run('haproxy', ['-v'])
  const result = {
    measuredAt: new Date().toISOString(),
    setup: { haproxy: version.split('\n')[0] ?? '', cpus: cpus().length, wrk: { threads: THREADS, connections: CONNECTIONS, durationS: DURATION_S }, request: 'GET / Accept text/html with a valid lumos_chk cookie', note: 'wrk, HAProxy and the Node origin share the same CPUs' },
    rows
  }
  await mkdir(new URL('../results/', import.meta.url), { recursive: true })
  await writeFile(new URL('../results/bot.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')
}

await main()
