// /lumos/probe/1, the SWIM probes of the failure detector (node/liveness): one
// length-prefixed ProbeRequest, one length-prefixed ProbeResponse, bounded in size and time.
// - Direct probe (empty target): the answering peer is reachable; it answers true.
// - Indirect probe (target = a peer id): "can you reach it?" The answering peer probes the
//   target directly itself and answers true/false. It only probes peers of the latest
//   signed config (mayProbe), at most MAX_RELAYED_PROBES at once, so it cannot be turned
//   into a scanner. Who may ask at all is the mesh's connection gater.
import type { PeerId, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { Logger } from 'pino'
import { probeRequestCodec, probeResponseCodec } from '../../proto/codec.ts'
import { PROBE_PROTOCOL, type MeshPeer } from '../../proto/mesh-peer.ts'

/** A ProbeRequest is a peer id (about 60 bytes); anything larger is refused. */
const MAX_PROBE_BYTES = 256
/** Inbound probe streams open at once per connection. */
const MAX_INBOUND_PROBE_STREAMS = 8
/** Indirect probes this peer performs for others at once; more are answered false. */
const MAX_RELAYED_PROBES = 16
/** Default bound of a whole probe exchange, and of the direct probe done for an indirect one. */
export const PROBE_TIMEOUT_MS = 1000

export interface ProbeServiceInit {
  peer: MeshPeer
  /** Whether `peerId` is a peer this node may probe for others (in the latest signed config). */
  mayProbe: (peerId: string) => boolean
  /** Bound of the direct probe done for an indirect request, and of the handler's IO. */
  timeoutMs?: number
  logger: Logger
}

export class ProbeService {
  private readonly init: ProbeServiceInit
  private readonly timeoutMs: number
  private relayed = 0
  private answeredCount = 0

  constructor (init: ProbeServiceInit) {
    this.init = init
    this.timeoutMs = init.timeoutMs ?? PROBE_TIMEOUT_MS
  }

  /** Probe requests answered so far (direct and indirect). */
  get answered (): number { return this.answeredCount }

  async start (): Promise<void> {
    await this.init.peer.handle(PROBE_PROTOCOL, async (stream: Stream, connection) => {
      await this.answer(stream, connection.remotePeer)
    }, { maxInboundStreams: MAX_INBOUND_PROBE_STREAMS })
  }

  async stop (): Promise<void> {
    await this.init.peer.unhandle(PROBE_PROTOCOL)
  }

  /** Direct probe: resolves true when `peerId` answers before `signal` aborts; false or throws otherwise. */
  async probe (peerId: string, signal: AbortSignal): Promise<boolean> {
    return await this.exchange(peerIdFromString(peerId), '', signal)
  }

  /** Indirect probe: asks `helperPeerId` whether it reaches `targetPeerId`. */
  async askToProbe (helperPeerId: string, targetPeerId: string, signal: AbortSignal): Promise<boolean> {
    return await this.exchange(peerIdFromString(helperPeerId), targetPeerId, signal)
  }

  private async exchange (remote: PeerId, targetPeerId: string, signal: AbortSignal): Promise<boolean> {
    const stream = await this.init.peer.dialProtocol(remote, PROBE_PROTOCOL, { signal })
    const lp = lpStream(stream, { maxDataLength: MAX_PROBE_BYTES })
    try {
      await lp.write(probeRequestCodec.encode({ targetPeerId }), { signal })
      const response = probeResponseCodec.decode((await lp.read({ signal })).subarray())
      await stream.close({ signal })
      return response.reachable
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  private async answer (stream: Stream, from: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(this.timeoutMs * 2)
    const lp = lpStream(stream, { maxDataLength: MAX_PROBE_BYTES })
    try {
      const { targetPeerId } = probeRequestCodec.decode((await lp.read({ signal })).subarray())
      const reachable = await this.reach(targetPeerId, from, signal)
      await lp.write(probeResponseCodec.encode({ reachable }), { signal })
      this.answeredCount++
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** Whether this peer reaches `target` ('' = itself) on behalf of `from`. */
  private async reach (target: string, from: PeerId, signal: AbortSignal): Promise<boolean> {
    if (target === '' || target === this.init.peer.peerId.toString()) return true
    if (target === from.toString() || !this.init.mayProbe(target) || this.relayed >= MAX_RELAYED_PROBES) return false
    this.relayed++
    try {
      return await this.probe(target, AbortSignal.any([signal, AbortSignal.timeout(this.timeoutMs)]))
    } catch (err) {
      this.init.logger.debug({ err, peer: target, requester: from.toString() }, 'indirect probe: target not reached')
      return false
    } finally {
      this.relayed--
    }
  }
}
