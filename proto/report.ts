// Reports on lumos/<account>/reports/1: every node's view of its peers (ObservationReport)
// and failures the operator must know about (ServerErrorReport), both wrapped in Report.
// This module owns the bounds and the strict decode that publisher and receivers share
// (node/mesh/reports.ts, the coordinator); who may send a report is the receiver's
// decision: the origin it names (originOf) must be the gossip originator.
import { reportCodec, type Report } from './codec.ts'
import { LumosError } from './lumos-error.ts'
import type { PeerView } from './observation.ts'

/** Largest report accepted; a 20-server view is under 2 KiB. */
export const MAX_REPORT_BYTES = 64 * 1024
/** Most peer views in one ObservationReport. */
export const MAX_REPORT_VIEWS = 500
/** HAProxy's message in a ServerErrorReport is cut to this many characters. */
export const MAX_ERROR_MESSAGE_CHARS = 2000
/** ServerErrorReport.type of a config version HAProxy refused or failed to reload. */
export const HAPROXY_RELOAD_FAILED = 'haproxy_reload_failed'

const MAX_ID_CHARS = 128
const MAX_TYPE_CHARS = 64
const VIEWS: ReadonlySet<string> = new Set<PeerView>(['alive', 'unhealthy', 'suspect', 'down'])

export function encodeReport (report: Report): Uint8Array {
  return reportCodec.encode(report)
}

/** Cuts an error message to MAX_ERROR_MESSAGE_CHARS (the tail, usually repetition, goes). */
export function boundErrorMessage (message: string): string {
  return message.length <= MAX_ERROR_MESSAGE_CHARS ? message : `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…`
}

/** The sender a report names: its server id and the peer id that must have signed the gossip. */
export function originOf (report: Report): { serverId: string, peerId: string } {
  if (report.observations != null) return { serverId: report.observations.observerServerId, peerId: report.observations.observerPeerId }
  if (report.serverError != null) return { serverId: report.serverError.serverId, peerId: report.serverError.peerId }
  throw new LumosError('MALFORMED_MESSAGE', 'report has no body')
}

function badId (id: string): boolean {
  return id === '' || id.length > MAX_ID_CHARS
}

/**
 * Decodes and bounds-checks a report from the wire. Throws MALFORMED_MESSAGE for bytes that
 * are too large or do not decode, a Report without exactly one body, empty or oversized ids,
 * an unknown view, too many views, or an oversized error type or message.
 */
export function decodeReport (bytes: Uint8Array): Report {
  if (bytes.length > MAX_REPORT_BYTES) throw new LumosError('MALFORMED_MESSAGE', `report of ${bytes.length} bytes exceeds the ${MAX_REPORT_BYTES}-byte bound`)
  const report = reportCodec.decode(bytes)
  const problem = reportProblem(report)
  if (problem !== undefined) throw new LumosError('MALFORMED_MESSAGE', `malformed report: ${problem}`)
  return report
}

function reportProblem (report: Report): string | undefined {
  const { observations, serverError } = report
  if ((observations == null) === (serverError == null)) return 'it must carry exactly one of observations and server_error'
  if (observations != null) {
    if (badId(observations.observerServerId) || badId(observations.observerPeerId)) return 'observer ids are empty or too long'
    if (!Number.isSafeInteger(observations.sentAtMs)) return 'sent_at_ms out of range'
    if (observations.views.length > MAX_REPORT_VIEWS) return `${observations.views.length} views exceed the bound of ${MAX_REPORT_VIEWS}`
    for (const view of observations.views) {
      if (badId(view.targetServerId)) return 'a view has an empty or too long target_server_id'
      if (!VIEWS.has(view.state)) return `unknown view state "${view.state.slice(0, 20)}"`
      if (!Number.isSafeInteger(view.ageMs)) return 'age_ms out of range'
    }
    return undefined
  }
  const error = serverError as NonNullable<Report['serverError']>
  if (badId(error.serverId) || badId(error.peerId)) return 'server error ids are empty or too long'
  if (error.type === '' || error.type.length > MAX_TYPE_CHARS) return 'server error type is empty or too long'
  if (error.message.length > MAX_ERROR_MESSAGE_CHARS) return `server error message exceeds ${MAX_ERROR_MESSAGE_CHARS} characters`
  if (!Number.isSafeInteger(error.version) || !Number.isSafeInteger(error.sentAtMs)) return 'version or sent_at_ms out of range'
  return undefined
}
