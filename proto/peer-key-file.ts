// Keeps a mesh peer's libp2p private key in a file (mode 0600) so its peer id survives
// restarts. Written atomically: temp file, fsync, rename.
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { decodePeerKey, encodePeerKey, newPeerKey } from './mesh-peer.ts'

export async function writeFileAtomic (path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.tmp-${process.pid}`
  const handle = await open(temp, 'w', mode)
  try {
    await handle.writeFile(data)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, path)
}

export async function loadOrCreatePeerKey (path: string): Promise<PrivateKey> {
  try {
    return decodePeerKey((await readFile(path, 'utf8')).trim())
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = await newPeerKey()
  await writeFileAtomic(path, encodePeerKey(key), 0o600)
  return key
}
