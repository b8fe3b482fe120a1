// The generated files of a node on disk (host map, ACLs, error pages, crt-list …) at their
// stable paths under runDir: read what is there, write only what changed (atomically),
// put the previous bytes back when a version is refused, and remove files a version no
// longer renders. Certificates are not handled here (node/tls/ owns them).
import { readdir, readFile, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { writeFileAtomic } from '../../proto/peer-key-file.ts'
import { GENERATED_DIRS } from '../render/layout.ts'
import type { FileSet } from './runtime-plan.ts'

export async function readFileSet (runDir: string, paths: readonly string[]): Promise<FileSet> {
  const entries = await Promise.all(paths.map(async path => [path, await readFile(join(runDir, path), 'utf8').catch(() => undefined)] as const))
  return Object.fromEntries(entries)
}

/** Writes the files whose content differs from `current`; returns the paths written. */
export async function writeChanged (runDir: string, current: FileSet, next: Record<string, string>): Promise<string[]> {
  const written: string[] = []
  for (const [path, content] of Object.entries(next)) {
    if (current[path] === content) continue
    await writeFileAtomic(join(runDir, path), content)
    written.push(path)
  }
  return written
}

/** Puts back the previous bytes of the given paths (deleting those that did not exist). */
export async function restoreFiles (runDir: string, previous: FileSet, paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const content = previous[path]
    if (content === undefined) await rm(join(runDir, path), { force: true })
    else await writeFileAtomic(join(runDir, path), content)
  }
}

/** Removes generated files that are not in `keep` (e.g. the ACL of a domain that left this node). */
export async function pruneStale (runDir: string, keep: Record<string, string>): Promise<string[]> {
  const dirs = new Set<string>(GENERATED_DIRS)
  // Only folders that hold nothing but generated files: never runDir itself or certs/.
  for (const path of Object.keys(keep)) if (!path.startsWith('certs/') && dirname(path) !== '.') dirs.add(dirname(path))
  const removed: string[] = []
  for (const dir of dirs) {
    const names = await readdir(join(runDir, dir)).catch(() => [] as string[])
    for (const name of names) {
      const path = `${dir}/${name}`
      if (keep[path] === undefined && !name.includes('.tmp-')) {
        await rm(join(runDir, path), { force: true, recursive: true })
        removed.push(path)
      }
    }
  }
  return removed
}
