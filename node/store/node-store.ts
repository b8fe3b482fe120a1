// LevelDB store of a shield node: the last signed versions it received (as received, so
// they can be re-verified and served to peers) and the pointer to the applied one.
// A version is written here before the node applies it, and fsynced with the applied
// pointer once HAProxy runs it: a killed process loses nothing (the kernel holds the write),
// a power cut may lose the newest versions, which the node fetches again from its peers or
// the coordinator (every version lives there too). An fsync per received version was most
// of the delivery time of a 20-node fleet on one disk (bench/gossip: stored vs verified).
import { Level } from 'level'
import { signedEnvelopeCodec } from '../../proto/codec.ts'

export const KEEP_VERSIONS = 20

export interface AppliedPointer {
  version: number
  /** Hash of the rendered HAProxy files for that version. */
  renderHash: string
}

const versionKey = (version: number): string => String(version).padStart(16, '0')

export class NodeStore {
  private readonly db: Level<string, unknown>
  private readonly versions
  private readonly meta
  /**
   * The version numbers stored, ascending (at most KEEP_VERSIONS once a put pruned): read
   * once at open, so a put or latest() opens no iterator, which in LevelDB walks the
   * tombstones of every pruned version until a compaction drops them.
   */
  private stored: number[] = []

  constructor (location: string) {
    this.db = new Level<string, unknown>(location, { valueEncoding: 'json' })
    this.versions = this.db.sublevel<string, Uint8Array>('versions', { valueEncoding: 'view' })
    this.meta = this.db.sublevel<string, AppliedPointer>('meta', { valueEncoding: 'json' })
  }

  /** `createIfMissing: false` refuses a directory without a readable CURRENT (node/store/store-recovery.ts). */
  async open (options: { createIfMissing?: boolean } = {}): Promise<void> {
    await this.db.open({ createIfMissing: options.createIfMissing ?? true })
    // Sublevels open a tick after the root; a chained batch on one that is still opening throws.
    await Promise.all([this.versions.open(), this.meta.open()])
    this.stored = (await this.versions.keys().all()).map(Number)
  }

  /** Reads every record once and decodes every stored envelope; throws on what LevelDB or the codec cannot read. */
  async check (): Promise<void> {
    for await (const envelope of this.versions.values()) signedEnvelopeCodec.decode(envelope)
    await this.meta.get('applied')
  }
  async close (): Promise<void> { await this.db.close() }

  /**
   * Writes a received envelope and prunes versions beyond the last KEEP_VERSIONS; fsynced
   * only when `durable` (a version the node must not lose, e.g. one that rotates the pinned
   * key), otherwise by the next setApplied.
   */
  async putVersion (version: number, envelope: Uint8Array, options: { durable?: boolean } = {}): Promise<void> {
    const kept = [...new Set([...this.stored, version])].sort((a, b) => a - b)
    const pruned = kept.filter(v => v <= version - KEEP_VERSIONS)
    const batch = this.versions.batch()
    batch.put(versionKey(version), envelope)
    for (const v of pruned) batch.del(versionKey(v))
    await batch.write({ sync: options.durable === true } as never)
    this.stored = kept.slice(pruned.length)
  }

  async latest (): Promise<{ version: number, envelope: Uint8Array } | undefined> {
    const version = this.stored.at(-1)
    if (version === undefined) return undefined
    const envelope = await this.versions.get(versionKey(version))
    return envelope === undefined ? undefined : { version, envelope }
  }

  async getVersion (version: number): Promise<Uint8Array | undefined> {
    return await this.versions.get(versionKey(version))
  }

  async applied (): Promise<AppliedPointer | undefined> {
    return await this.meta.get('applied')
  }

  /** Fsynced, and with it every version written before. */
  async setApplied (pointer: AppliedPointer): Promise<void> {
    await this.meta.put('applied', pointer, { sync: true } as never)
  }
}
