// A small in-process liveness fleet for the failure-detector tests: real libp2p peers on
// 127.0.0.1, each running what a shield node runs for liveness (NodeHeartbeat with its
// onHeartbeat hook, ProbeService, NodeReports, LivenessRunner), plus an observer peer in
// the coordinator's place that collects every ObservationReport on the reports topic.
// Probes are logged (not replaced) so tests can prove a probe happened and how it ended.
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { pino } from 'pino'
import type { ObservationReport, ServerEntry } from '../../../proto/codec.ts'
import { COORDINATOR_SERVER_ID } from '../../../proto/heartbeat.ts'
import { createMeshPeer, heartbeatTopic, newPeerKey, reportsTopic, type MeshPeer } from '../../../proto/mesh-peer.ts'
import { decodeReport } from '../../../proto/report.ts'
import type { LivenessParams } from '../../../node/liveness/constants.ts'
import { LivenessRunner } from '../../../node/liveness/liveness-runner.ts'
import { NodeHeartbeat } from '../../../node/mesh/heartbeat.ts'
import { ProbeService } from '../../../node/mesh/probe-protocol.ts'
import { NodeReports } from '../../../node/mesh/reports.ts'
import { waitFor } from '../../fixtures/wait.ts'

export const ACCOUNT = 'acc_liveness'
const logger = pino({ level: 'silent' })

/** A probe this member ran; `at` is when it started (Date.now()). */
export interface ProbeLogEntry { kind: 'direct' | 'indirect', target: string, helper?: string, ok: boolean, at: number }

export interface Member {
  serverId: string
  peer: MeshPeer
  heartbeat: NodeHeartbeat
  probes: ProbeService
  reports: NodeReports
  runner: LivenessRunner
  /** What this member's heartbeats say about its HAProxy. */
  healthy: boolean
  /** Probes this member's runner sent, with their outcome (by target server id). */
  probeLog: ProbeLogEntry[]
  /** Server ids whose heartbeats reached this member. */
  heardFrom: Set<string>
  stop: () => Promise<void>
}

export interface ReceivedReport { at: number, report: ObservationReport }

export interface Fleet {
  members: Member[]
  observer: MeshPeer
  /** ObservationReports the observer received, in order. */
  received: ReceivedReport[]
  /** The latest view `observer` reports of `target`, from reports received after `since`. */
  reportedView: (observer: Member, target: Member, since?: number) => string | undefined
  stop: () => Promise<void>
}

export interface FleetInit {
  size: number
  params: LivenessParams
  /** Pairs of member indexes that may not connect to each other (a partial partition). */
  deny?: Array<[number, number]>
}

export { waitFor }

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

export async function startFleet (init: FleetInit): Promise<Fleet> {
  const { size, params } = init
  const keys = await Promise.all(Array.from({ length: size + 1 }, async () => await newPeerKey()))
  const ids = keys.map(key => peerIdFromPrivateKey(key).toString())
  const serverIds = new Map<string, string>(ids.slice(0, size).map((id, i) => [id, `srv_${i}`]))
  serverIds.set(ids[size] as string, COORDINATOR_SERVER_ID)
  const serverIdOf = (peerId: string): string | undefined => serverIds.get(peerId)
  const denied = new Set((init.deny ?? []).flatMap(([a, b]) => [`${ids[a]}>${ids[b]}`, `${ids[b]}>${ids[a]}`]))
  const peers = await Promise.all(keys.map(async (privateKey, i) => await createMeshPeer({
    privateKey,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    isPeerAllowed: (peer: PeerId) => serverIds.has(peer.toString()) && !denied.has(`${ids[i]}>${peer.toString()}`)
  })))
  const observer = peers[size] as MeshPeer
  const servers: ServerEntry[] = peers.slice(0, size).map((peer, i) => ({
    id: `srv_${i}`, name: `server ${i}`, peerId: peer.peerId.toString(), multiaddrs: peer.getMultiaddrs().map(String), publicIp: `203.0.113.${i + 1}`, status: 'online'
  }))

  const members = peers.slice(0, size).map((peer, i): Member => {
    const serverId = `srv_${i}`
    const peerId = peer.peerId.toString()
    const pubsub = peer.services.pubsub
    const probes = new ProbeService({ peer, mayProbe: (id) => serverIds.has(id), timeoutMs: params.probeTimeoutMs, logger })
    const reports = new NodeReports({ pubsub, topic: reportsTopic(ACCOUNT), serverId, peerId, serverIdOf, logger })
    const probeLog: ProbeLogEntry[] = []
    let stopped = false
    const logged = async (entry: Omit<ProbeLogEntry, 'ok' | 'at'>, run: () => Promise<boolean>): Promise<boolean> => {
      const at = Date.now()
      try {
        const ok = await run()
        probeLog.push({ ...entry, ok, at })
        return ok
      } catch (err) {
        probeLog.push({ ...entry, ok: false, at })
        throw err
      }
    }
    const runner = new LivenessRunner({
      params,
      selfServerId: serverId,
      probes: {
        probe: async (target, signal) => await logged({ kind: 'direct', target: serverIdOf(target) ?? target }, async () => await probes.probe(target, signal)),
        askToProbe: async (helper, target, signal) => await logged({ kind: 'indirect', target: serverIdOf(target) ?? target, helper: serverIdOf(helper) }, async () => await probes.askToProbe(helper, target, signal))
      },
      publish: async (views) => { await reports.publishObservations(views) },
      logger
    })
    const member: Member = {
      serverId,
      peer,
      probes,
      reports,
      runner,
      healthy: true,
      probeLog,
      heardFrom: new Set(),
      heartbeat: new NodeHeartbeat({
        pubsub,
        topic: heartbeatTopic(ACCOUNT),
        self: () => ({ serverId, peerId, appliedVersion: 0, appliedHash: new Uint8Array(), sentAtMs: Date.now(), haproxyHealthy: member.healthy }),
        serverIdOf,
        onClaim: () => {},
        onHeartbeat: (from, beat) => {
          member.heardFrom.add(beat.serverId)
          runner.noteHeartbeat(from, beat.haproxyHealthy)
        },
        logger,
        intervalMs: params.heartbeatIntervalMs
      }),
      stop: async () => {
        if (stopped) return
        stopped = true
        runner.stop()
        member.heartbeat.stop()
        reports.stop()
        await probes.stop().catch(() => {})
        await peer.stop()
      }
    }
    runner.follow({ servers })
    return member
  })

  const received: ReceivedReport[] = []
  observer.services.pubsub.addEventListener('message', (event) => {
    if (event.detail.topic !== reportsTopic(ACCOUNT)) return
    const report = decodeReport(event.detail.data)
    if (report.observations != null) received.push({ at: Date.now(), report: report.observations })
  })
  observer.services.pubsub.subscribe(reportsTopic(ACCOUNT))

  for (const [i, a] of peers.entries()) {
    for (const [j, b] of peers.entries()) {
      if (j <= i || denied.has(`${ids[i]}>${ids[j]}`)) continue
      await a.dial(b.getMultiaddrs())
    }
  }
  for (const member of members) {
    await member.probes.start()
    member.reports.start()
    member.heartbeat.start()
  }
  // Every member sees the others (it may connect to) on the heartbeat topic and the observer on the reports topic.
  for (const [i, member] of members.entries()) {
    const expected = ids.filter((id, j) => j !== i && !denied.has(`${ids[i]}>${id}`))
    await waitFor(`member ${i} to see its peers' subscriptions`, () => {
      const pubsub = member.peer.services.pubsub
      const hb = new Set(pubsub.getSubscribers(heartbeatTopic(ACCOUNT)).map(String))
      const rp = new Set(pubsub.getSubscribers(reportsTopic(ACCOUNT)).map(String))
      return expected.every(id => id === ids[size] ? rp.has(id) : hb.has(id))
    })
  }
  for (const member of members) member.runner.start()

  const reportedView = (from: Member, target: Member, since = 0): string | undefined => {
    const latest = received.filter(r => r.at >= since && r.report.observerServerId === from.serverId).at(-1)
    return latest?.report.views.find(v => v.targetServerId === target.serverId)?.state
  }
  return {
    members,
    observer,
    received,
    reportedView,
    stop: async () => {
      await Promise.all(members.map(async member => { await member.stop().catch(() => {}) }))
      await observer.stop()
    }
  }
}
