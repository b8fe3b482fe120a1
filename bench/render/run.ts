// bench/render: time of the pure renderer (signed config → haproxy.cfg, generated files and
// hash; target < 200 ms at 10 000 domains) for 10 / 1 000 / 10 000 domains on one node, in
// two shapes (bench/render/configs.ts): the dataplane case (WAF + rate limit) and every
// feature on. The config is encoded and decoded first, as a node gets it. Per case: warm-up
// renders, then median and p90 of --runs renders, the CPU time of the process beside the
// wall time (on a shared machine CPU time is the steadier figure), and heap / RSS after
// the case's renders. Writes bench/results/render.json.
// Usage: npm run bench -- render [--domains 10,1000,10000] [--runs 15] [--warmup 3]
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { renderHaproxyConfig, type RenderInput } from '../../node/render/render.ts'
import { configVersionCodec, type ConfigVersion } from '../../proto/codec.ts'
import { percentile } from '../lib/stats.ts'
import { BENCH_SERVER, everyFeatureConfig, wafRateLimitConfig } from './configs.ts'

const TEMPLATES_DIR = new URL('../../haproxy-templates', import.meta.url).pathname
const template = await readFile(new URL('../../haproxy-templates/haproxy.cfg.tpl', import.meta.url), 'utf8')
const { values } = parseArgs({ options: { domains: { type: 'string', default: '10,1000,10000' }, runs: { type: 'string', default: '15' }, warmup: { type: 'string', default: '3' } } })
const SHAPES: Record<string, (domains: number) => ConfigVersion> = { 'waf+rate-limit': wafRateLimitConfig, 'every-feature': everyFeatureConfig }

const round = (x: number): number => Math.round(x * 10) / 10
const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10

function renderCase (shape: string, domains: number, runs: number, warmup: number): Record<string, number | string> {
  const config = configVersionCodec.decode(configVersionCodec.encode(SHAPES[shape]!(domains)))
  const input: RenderInput = { config, serverId: BENCH_SERVER, httpBind: '127.0.0.1:8080', httpsBind: '127.0.0.1:8443', template, paths: { runDir: '/run/lumos-bench', templatesDir: TEMPLATES_DIR } }
  for (let i = 0; i < warmup; i++) renderHaproxyConfig(input)
  const wall: number[] = []
  const cpu: number[] = []
  // Each output is dropped before the next render, as the node does between versions.
  let hashes = 0
  for (let i = 0; i < runs; i++) {
    const cpuStart = process.cpuUsage()
    const started = performance.now()
    hashes += renderHaproxyConfig(input).hash.length
    wall.push(performance.now() - started)
    const used = process.cpuUsage(cpuStart)
    cpu.push((used.user + used.system) / 1000)
  }
  if (hashes !== 64 * runs) throw new Error('a render returned no hash')
  // Memory while one render's output is held, as the applier holds it while applying.
  const rendered = renderHaproxyConfig(input)
  const memory = process.memoryUsage()
  const fileBytes = Object.values(rendered.files).reduce((sum, text) => sum + text.length, 0)
  return {
    shape,
    domains,
    runs,
    wallMsMedian: round(percentile(wall, 50)),
    wallMsP90: round(percentile(wall, 90)),
    cpuMsMedian: round(percentile(cpu, 50)),
    cpuMsP90: round(percentile(cpu, 90)),
    cfgMB: mb(rendered.haproxyCfg.length),
    files: Object.keys(rendered.files).length,
    filesMB: mb(fileBytes),
    heapUsedMB: mb(memory.heapUsed),
    rssMB: mb(memory.rss)
  }
}

const rows: Array<Record<string, number | string>> = []
for (const shape of Object.keys(SHAPES)) {
  for (const domains of values.domains.split(',').map(Number)) {
    rows.push(renderCase(shape, domains, Number(values.runs), Number(values.warmup)))
  }
}
console.table(rows)
await mkdir(new URL('../results/', import.meta.url), { recursive: true })
await writeFile(new URL('../results/render.json', import.meta.url), JSON.stringify({ measuredAt: new Date().toISOString(), targetMs: 200, rows }, null, 2) + '\n')
