// When is a shield server down? Pure: `isDownByQuorum(observations, serverId, now, rule)`
// over the coordinator's own view and the views its peers reported. The rule
// (docs/decisions/004-quorum.md):
//
// 1. Only fresh observations count: `at` within `rule.freshnessMs` of `now`, the newest per
//    observer. Observers outside `rule.fleet`, and the target about itself, are ignored.
// 2. The coordinator must itself see the server `down`. Peers alone never fail a server
//    over: if the coordinator still hears it, the verdict is `suspect` (reported, no action).
// 3. Fleets of 2 or more servers: the *voters* are the other fleet servers with a fresh
//    view of the target (a peer that is gone or cut off sends none, so it neither blocks
//    nor helps). Down needs at least one voter and a strict majority of voters seeing it
//    `down`. 2-server fleet: the one other server must agree. A coordinator-only partition
//    (coordinator: down, peers: alive, or no peer reports at all) is therefore never down.
// 4. 1-server fleet: there is no one to ask, and no secondary to move traffic to either,
//    so the only effect is the server_down notification. The coordinator's own view
//    counts, but only once it has seen the server down continuously for
//    `rule.soloConfirmMs` (its `since`), so a short coordinator-side blip does not alert.
import type { PeerObservation, QuorumRule, QuorumVerdict } from './types.ts'

export function isDownByQuorum (observations: readonly PeerObservation[], serverId: string, now: number, rule: QuorumRule): QuorumVerdict {
  const fresh = freshestByObserver(observations, serverId, now, rule)
  const own = fresh.get(rule.coordinatorId)
  const peers = rule.fleet.filter(id => id !== serverId && id !== rule.coordinatorId)
  const votes = peers.map(id => fresh.get(id)).filter(o => o !== undefined)
  const voters = votes.length
  const downVotes = votes.filter(o => o.state === 'down').length
  const needed = Math.floor(voters / 2) + 1
  const anyoneWorried = [...fresh.values()].some(o => o.state === 'down' || o.state === 'suspect')
  const verdict = (down: boolean, reason: QuorumVerdict['reason']): QuorumVerdict => ({
    down,
    state: down ? 'down' : anyoneWorried ? 'suspect' : 'up',
    reason,
    coordinatorView: own?.state ?? null,
    voters,
    downVotes,
    needed: peers.length === 0 ? 0 : needed,
    observations: [...fresh.values()]
  })

  if (own === undefined) return verdict(false, 'no-coordinator-view')
  if (own.state !== 'down') return verdict(false, 'coordinator-disagrees')
  if (peers.length === 0) {
    return now - own.since >= rule.soloConfirmMs ? verdict(true, 'solo-confirmed') : verdict(false, 'solo-confirming')
  }
  if (voters === 0) return verdict(false, 'no-peer-view')
  return downVotes >= needed ? verdict(true, 'quorum') : verdict(false, 'no-majority')
}

/** The newest fresh observation of `serverId` by each eligible observer (fleet peers and the coordinator). */
function freshestByObserver (observations: readonly PeerObservation[], serverId: string, now: number, rule: QuorumRule): Map<string, PeerObservation> {
  const eligible = new Set(rule.fleet)
  eligible.add(rule.coordinatorId)
  eligible.delete(serverId)
  const newest = new Map<string, PeerObservation>()
  for (const o of observations) {
    if (o.targetId !== serverId || !eligible.has(o.observerId)) continue
    if (now - o.at > rule.freshnessMs) continue
    const seen = newest.get(o.observerId)
    if (seen === undefined || o.at > seen.at) newest.set(o.observerId, o)
  }
  return newest
}
