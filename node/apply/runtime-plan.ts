// Pure planning of a runtime-API update: given the generated files HAProxy currently runs
// with and the newly rendered ones, the `add/set/del map` and `add/del acl` commands that
// turn the first into the second — or undefined when some change needs a reload (a file
// HAProxy cannot change at run time, or one the running config does not reference yet).
import { runtimeKind } from '../render/layout.ts'
import { cliArg } from '../haproxy/runtime-api.ts'
import { join } from 'node:path'

export type FileSet = Record<string, string | undefined>

function lines (content: string): string[] {
  return content.split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('#'))
}

/** Map lines are "key value": the value is the rest of the line after the first blank. */
function mapEntries (content: string): Map<string, string> {
  const entries = new Map<string, string>()
  for (const line of lines(content)) {
    const match = /^(\S+)\s+(.*)$/.exec(line)
    if (match !== null) entries.set(match[1]!, match[2]!)
  }
  return entries
}

function mapCommands (file: string, before: string, after: string): string[] {
  const old = mapEntries(before)
  const next = mapEntries(after)
  const commands: string[] = []
  for (const [key, value] of next) {
    const current = old.get(key)
    if (current === undefined) commands.push(`add map ${file} ${cliArg(key)} ${cliArg(value)}`)
    else if (current !== value) commands.push(`set map ${file} ${cliArg(key)} ${cliArg(value)}`)
  }
  for (const key of old.keys()) if (!next.has(key)) commands.push(`del map ${file} ${cliArg(key)}`)
  return commands
}

function aclCommands (file: string, before: string, after: string): string[] {
  const old = new Set(lines(before))
  const next = new Set(lines(after))
  return [
    ...[...next].filter(value => !old.has(value)).map(value => `add acl ${file} ${cliArg(value)}`),
    ...[...old].filter(value => !next.has(value)).map(value => `del acl ${file} ${cliArg(value)}`)
  ]
}

/** Paths (relative) whose content differs between the two sets. */
export function changedFiles (before: FileSet, after: Record<string, string>): string[] {
  return Object.keys(after).filter(path => before[path] !== after[path]).sort()
}

export function planRuntimeUpdate (runDir: string, before: FileSet, after: Record<string, string>): string[] | undefined {
  const commands: string[] = []
  for (const path of changedFiles(before, after)) {
    const kind = runtimeKind(path)
    const old = before[path]
    if (kind === undefined || old === undefined) return undefined
    const file = cliArg(join(runDir, path))
    commands.push(...(kind === 'map' ? mapCommands(file, old, after[path]!) : aclCommands(file, old, after[path]!)))
  }
  return commands
}
