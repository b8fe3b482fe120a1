// Instruction counts of the WAF + bot-protection frontend lines (a harness, not a test):
// HAProxy (nbthread 1) runs under `valgrind --tool=callgrind` with the config of
// bench/waf/run.ts — protection "on" (WAF paranoia 1 + bad bots + JS challenge) or "off" —
// and receives a fixed number of keep-alive requests of a mix (bench/waf/mixes.ts), one at
// a time, from this process, proxied to a local Node origin. Instructions per request =
// (Ir of the run − Ir of the same setup receiving no request) / requests. Unlike wrk's
// req/s this is deterministic on a loaded machine, so it can rank small changes of the
// rendered lines. Writes bench/results/waf-instructions.json.
// Run: node bench/waf/instructions.ts [--requests 2000] [--profile]
//   --profile: also writes bench/results/waf-instructions-profile.txt, the functions whose
//   self cost (Ir per request, callgrind_annotate) differs most between on and off.
// Needs valgrind and haproxy.
import { execFile, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { CorpusRequest } from './corpus-shape.ts'
import { BOT_OFF, BOT_ON, PAGES_ONLY, TYPICAL, WRK_HOST, challengeCookie, domain, withCookie } from './mixes.ts'
import { freePort, startOrigin, waitForPort, wafHaproxyConfig } from './waf-haproxy.ts'

const args = process.argv.slice(2)
const REQUESTS = Number(args[args.indexOf('--requests') + 1] ?? 2000) || 2000
const PROFILE = args.includes('--profile')
/** `--only on` (or off): measure one setup only, e.g. while trying variants of the "on" lines. */
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined
const results = new URL('../results/', import.meta.url)


/** Sends `count` requests of `mix` round robin on one keep-alive connection; returns the statuses seen. */
async function send (port: number, mix: readonly CorpusRequest[], count: number): Promise<Record<number, number>> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const statuses: Record<number, number> = {}
  try {
    for (let i = 0; i < count; i++) {
      const r = mix[i % mix.length]!
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers: { host: WRK_HOST, ...r.headers }, agent }, res => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        req.on('error', reject)
        req.end(r.body)
      })
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  } finally {
    agent.destroy()
  }
  return statuses
}

/** Total Ir of one HAProxy run under callgrind that receives `count` requests of `mix`. */
async function measure (dir: string, name: string, config: string, port: number, mix: readonly CorpusRequest[], count: number): Promise<{ ir: number, out: string, statuses: Record<number, number> }> {
  const runDir = join(dir, name)
  mkdirSync(runDir, { recursive: true })
  const cfg = join(runDir, 'haproxy.cfg')
  writeFileSync(cfg, config)
  const out = join(dir, `${name}.callgrind`)
  const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, 'haproxy', '-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-8192) })
  const exited = once(child, 'exit')
  try {
    await waitForPort(port, AbortSignal.timeout(120_000))
    const statuses = await send(port, mix, count)
    child.kill('SIGTERM')
    await exited
    const text = readFileSync(out, 'utf8')
    const total = /^(?:summary|totals): (\d+)/m.exec(text)
    if (total === null) throw new Error(`no total in ${out}: ${stderr}`)
    return { ir: Number(total[1]), out, statuses }
  } finally {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited }
  }
}

/** Self Ir per function (callgrind_annotate, inclusive off), keyed by function name. */
async function selfCosts (out: string): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)('callgrind_annotate', ['--threshold=100', out], { maxBuffer: 64 << 20 })
  const costs = new Map<string, number>()
  for (const line of stdout.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line) ?? /^\s*([\d,]+)\s+(\S.*)$/.exec(line)
    if (m === null || m[2]!.startsWith('PROGRAM TOTALS')) continue
    // "file:function [object]": unnamed functions of stripped objects keep their object
    const fn = m[2]!.replace(/^[^\s:]*:(?=\S)/, '').replace(/\/usr\/(?:lib\/x86_64-linux-gnu|sbin)\//, '').trim()
    costs.set(fn, (costs.get(fn) ?? 0) + Number(m[1]!.replaceAll(',', '')))
  }
  return costs
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lwafi-'))
  const origin = await startOrigin()
  const key = randomBytes(32)
  const cookie = challengeCookie(key)
  const mixes = { typical: TYPICAL, pagesOnly: PAGES_ONLY }
  const perRequest: Record<string, Record<string, number>> = {}
  const outs: Record<string, string> = {}
  try {
    for (const [setup, owasp, bot] of [['on', true, BOT_ON], ['off', false, BOT_OFF]] as const) {
      if (ONLY !== undefined && ONLY !== setup) continue
      const port = await freePort()
      const config = wafHaproxyConfig(join(dir, setup), [{ port, domain: domain(setup, owasp, bot) }], origin.port, { nbthread: 1, challengeKey: key })
      const idle = await measure(dir, `${setup}-idle`, config, port, [], 0)
      perRequest[setup] = {}
      for (const [mix, requests] of Object.entries(mixes)) {
        const run = await measure(dir, `${setup}-${mix}`, config, port, requests.map(r => withCookie(r, cookie)), REQUESTS)
        if (Object.keys(run.statuses).some(s => s !== '200')) throw new Error(`${setup} ${mix}: statuses ${JSON.stringify(run.statuses)} (a false positive or a refused cookie)`)
        perRequest[setup][mix] = Math.round((run.ir - idle.ir) / REQUESTS)
        outs[`${setup}-${mix}`] = run.out
        outs[`${setup}-idle`] = idle.out
        process.stderr.write(`${setup} ${mix}: ${perRequest[setup][mix]} Ir/request\n`)
      }
    }
    const report = {
      requests: REQUESTS,
      setup: 'haproxy nbthread 1 under callgrind; Node origin; one keep-alive connection; every request carries a valid lumos_chk cookie',
      irPerRequest: perRequest,
      onMinusOff: Object.fromEntries(Object.keys(mixes).map(m => [m, (perRequest.on?.[m] ?? NaN) - (perRequest.off?.[m] ?? NaN)]))
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
    if (ONLY !== undefined) return
    mkdirSync(results, { recursive: true })
    writeFileSync(new URL('waf-instructions.json', results), JSON.stringify(report, null, 2) + '\n')
    if (PROFILE) {
      const lines: string[] = []
      for (const mix of Object.keys(mixes)) {
        // Per setup the run minus its idle run (start-up cancels out), then on − off.
        const on = await selfCosts(outs[`on-${mix}`]!)
        const onIdle = await selfCosts(outs['on-idle']!)
        const off = await selfCosts(outs[`off-${mix}`]!)
        const offIdle = await selfCosts(outs['off-idle']!)
        const net = (fn: string, run: Map<string, number>, idle: Map<string, number>): number => (run.get(fn) ?? 0) - (idle.get(fn) ?? 0)
        const diff = [...new Set([...on.keys(), ...off.keys()])].map(fn => [fn, (net(fn, on, onIdle) - net(fn, off, offIdle)) / REQUESTS] as const)
        diff.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
        lines.push(`## ${mix}: self Ir per request, on − off`, ...diff.slice(0, 40).map(([fn, d]) => `${d.toFixed(0).padStart(9)}  ${fn}`), '')
      }
      writeFileSync(new URL('waf-instructions-profile.txt', results), lines.join('\n'))
      process.stdout.write(lines.join('\n') + '\n')
    }
  } finally {
    origin.server.closeAllConnections()
    origin.server.close()
    if (process.env.LUMOS_KEEP_CALLGRIND === undefined) rmSync(dir, { recursive: true, force: true }); else process.stderr.write(`callgrind files kept in ${dir}\n`)
  }
}

await main()
