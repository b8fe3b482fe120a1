// Pure planning of runtime-API server updates: given the haproxy.cfg HAProxy runs and the
// newly rendered one, the `set server <backend>/<server> addr … port …` and `… weight …`
// commands that make the running servers match — or undefined when the configs differ in
// anything else (a server added or removed or renamed, TLS to the origin toggled, any other
// line), which needs a reload. Addresses must be IP literals on both sides: `set server
// addr` takes no host name. Health checks follow: a server without its own check address
// or port is checked on its (new) address and port.
import { isIP } from 'node:net'
import { cliArg } from '../haproxy/runtime-api.ts'

/** A `server` line of a backend as the renderer writes it (node/render/backend.ts). */
interface ServerLine {
  name: string
  host: string
  port: string
  weight: string | undefined
  /** Every other token, in order: must be equal for a runtime update. */
  options: string
}

function parseServerLine (line: string): ServerLine | undefined {
  const tokens = line.trim().split(/\s+/)
  if (tokens[0] !== 'server' || tokens.length < 3) return undefined
  const address = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(tokens[2]!)
  if (address === null) return undefined
  const rest = tokens.slice(3)
  const at = rest.indexOf('weight')
  const weight = at < 0 ? undefined : rest[at + 1]
  if (at >= 0) rest.splice(at, 2)
  return { name: tokens[1]!, host: address[1] ?? address[2]!, port: address[3]!, weight, options: rest.join(' ') }
}

/** The section a line opens (`backend site_x` → 'backend site_x'), or undefined for a line inside one. */
function sectionHeader (line: string): string | undefined {
  return line === '' || /^\s/.test(line) || line.startsWith('#') ? undefined : line.trim()
}

/** Length of the common prefix of a and b; compared in chunks first (a config is megabytes). */
function commonPrefix (a: string, b: string): number {
  const max = Math.min(a.length, b.length)
  const CHUNK = 4096
  let i = 0
  while (i + CHUNK <= max && a.slice(i, i + CHUNK) === b.slice(i, i + CHUNK)) i += CHUNK
  while (i < max && a.charCodeAt(i) === b.charCodeAt(i)) i++
  return i
}

/** Length of the common suffix of a and b, at most `max`. */
function commonSuffix (a: string, b: string, max: number): number {
  const CHUNK = 4096
  let n = 0
  while (n + CHUNK <= max && a.slice(a.length - n - CHUNK, a.length - n) === b.slice(b.length - n - CHUNK, b.length - n)) n += CHUNK
  while (n < max && a.charCodeAt(a.length - n - 1) === b.charCodeAt(b.length - n - 1)) n++
  return n
}

/** The header of the section holding the line that starts at `lineStart`. */
function enclosingSection (text: string, lineStart: number): string | undefined {
  let end = lineStart - 1
  while (end >= 0) {
    const begin = text.lastIndexOf('\n', end - 1) + 1
    const header = sectionHeader(text.slice(begin, end))
    if (header !== undefined) return header
    end = begin - 1
  }
  return undefined
}

/** Commands turning the servers of `before` into those of `after`; [] when equal; undefined when a reload is needed. */
export function planServerUpdate (before: string, after: string): string[] | undefined {
  if (before === after) return []
  // Only the lines between the common prefix and the common suffix can differ.
  const prefix = commonPrefix(before, after)
  const suffix = commonSuffix(before, after, Math.min(before.length, after.length) - prefix)
  const start = after.lastIndexOf('\n', prefix - 1) + 1
  const endOf = (text: string): number => {
    const end = text.indexOf('\n', text.length - suffix)
    return end < 0 ? text.length : end
  }
  const old = before.slice(start, endOf(before)).split('\n')
  const next = after.slice(start, endOf(after)).split('\n')
  if (old.length !== next.length) return undefined
  const commands: string[] = []
  let section = enclosingSection(after, start)
  for (let i = 0; i < next.length; i++) {
    const line = next[i]!
    section = sectionHeader(line) ?? section
    if (line === old[i]) continue
    const backend = /^backend (\S+)$/.exec(section ?? '')?.[1]
    const from = parseServerLine(old[i]!)
    const to = parseServerLine(line)
    if (backend === undefined || from === undefined || to === undefined) return undefined
    if (from.name !== to.name || from.options !== to.options || isIP(from.host) === 0 || isIP(to.host) === 0) return undefined
    if ((from.weight === undefined) !== (to.weight === undefined)) return undefined
    const server = cliArg(`${backend}/${to.name}`)
    if (from.host !== to.host || from.port !== to.port) commands.push(`set server ${server} addr ${to.host} port ${to.port}`)
    if (from.weight !== to.weight) commands.push(`set server ${server} weight ${to.weight ?? ''}`)
  }
  return commands
}
