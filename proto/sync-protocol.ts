// /lumos/sync/1: a peer asks "I have version N of account A, what is newer?" and gets the
// signed envelopes it lacks. Relays are untrusted: the asker verifies every envelope.
// One length-prefixed SyncRequest, one length-prefixed SyncResponse, bounded in size and time.
import type { PeerId, Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { signedEnvelopeCodec, syncRequestCodec, syncResponseCodec, type SignedEnvelope, type SyncRequest } from './codec.ts'
import { MAX_MESSAGE_BYTES, SYNC_PROTOCOL, type MeshPeer } from './mesh-peer.ts'

export const SYNC_TIMEOUT_MS = 5000

/** Answers a request from what this peer stores: encoded envelopes newer than `haveVersion`. */
export type SyncSource = (request: SyncRequest) => Promise<Uint8Array[]>

export async function serveSync (peer: MeshPeer, source: SyncSource): Promise<void> {
  await peer.handle(SYNC_PROTOCOL, async (stream: Stream) => {
    const signal = AbortSignal.timeout(SYNC_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
    try {
      const request = syncRequestCodec.decode((await lp.read({ signal })).subarray())
      const envelopes = (await source(request)).map(bytes => signedEnvelopeCodec.decode(bytes))
      await lp.write(syncResponseCodec.encode({ envelopes }), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }, { maxInboundStreams: 8 })
}

export async function requestSync (peer: MeshPeer, remote: PeerId, request: SyncRequest, signal: AbortSignal = AbortSignal.timeout(SYNC_TIMEOUT_MS)): Promise<SignedEnvelope[]> {
  const stream = await peer.dialProtocol(remote, SYNC_PROTOCOL, { signal })
  const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES })
  try {
    await lp.write(syncRequestCodec.encode(request), { signal })
    const response = syncResponseCodec.decode((await lp.read({ signal })).subarray())
    await stream.close({ signal })
    return response.envelopes
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}
