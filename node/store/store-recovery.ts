// Opens the node store, and when it cannot be opened or read (garbage in its files, CURRENT
// or MANIFEST missing or damaged, a stored envelope that does not decode) logs STORE_CORRUPT,
// moves the directory aside as <db>.corrupt-<timestamp> for the operator to inspect, and
// starts with an empty store: the node then re-syncs the newest version from the
// coordinator and its peers (heartbeats + /lumos/sync/1). Losing the store loses nothing
// that the mesh does not hold. A store locked by another process is not corrupt: rethrown.
import { readdir, rename } from 'node:fs/promises'
import type { Logger } from 'pino'
import { LumosError } from '../../proto/lumos-error.ts'
import { NodeStore } from './node-store.ts'

function isLocked (err: unknown): boolean {
  for (let e = err as { code?: unknown, cause?: unknown } | undefined; e !== undefined && e !== null; e = e.cause as typeof e) {
    if (e.code === 'LEVEL_LOCKED') return true
  }
  return false
}

export async function openNodeStore (location: string, logger: Logger, now: () => number = Date.now): Promise<NodeStore> {
  const entries = await readdir(location).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    throw err
  })
  const store = new NodeStore(location)
  try {
    // An existing store must open as it is: LevelDB would otherwise silently start a new,
    // empty database over a directory whose CURRENT file is gone.
    await store.open({ createIfMissing: entries.length === 0 })
    await store.check()
    return store
  } catch (err) {
    if (isLocked(err)) throw err
    await store.close().catch(() => {})
    const aside = `${location}.corrupt-${now()}`
    const corrupt = new LumosError('STORE_CORRUPT', `the node store at ${location} cannot be opened or read; moved to ${aside}, starting empty and re-syncing from the mesh`, { cause: err })
    logger.error({ err: corrupt, code: corrupt.code, movedTo: aside }, 'node store corrupt; moved aside, re-syncing from peers')
    await rename(location, aside)
  }
  const fresh = new NodeStore(location)
  await fresh.open()
  return fresh
}
