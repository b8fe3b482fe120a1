// FleetState's roster (which peers are servers of an account) against reads that finish out
// of order: an enrolment's own refresh must not be undone by a slower periodic one that read
// the servers before the enrolment was committed.
import t from 'tap'
import pino from 'pino'
import { FleetState, type FleetMesh } from '../../../coordinator/fleet/fleet-state.ts'
import { QUORUM_LAN } from '../../../coordinator/failover/constants.ts'
import type { ServerRecord } from '../../../coordinator/model.ts'
import type { CoordinatorStore } from '../../../coordinator/store/store.ts'
import { LAN } from '../../../node/liveness/constants.ts'

const server = (id: string, peerId: string): ServerRecord => ({
  id, accountId: 'acc_1', name: id, publicIp: '203.0.113.1', status: 'online', tokenHash: '', tokenPrefix: '', peerId, multiaddrs: [], createdAt: '', enrolledAt: ''
})

t.test('an older roster read that finishes last does not drop a server a newer read listed', async t => {
  const servers: ServerRecord[] = [server('srv_a', 'peer-a')]
  const releases: Array<() => void> = []
  // Each read takes its snapshot at once and returns it when the test releases it.
  const store = {
    table: () => ({ sub: { iterator: async function * () {} }, put: async () => {} }),
    listServers: async () => {
      const snapshot = [...servers]
      await new Promise<void>(resolve => releases.push(resolve))
      return snapshot
    }
  } as unknown as CoordinatorStore
  const fleet = new FleetState({ store, mesh: {} as unknown as FleetMesh, liveness: LAN, quorum: QUORUM_LAN, logger: pino({ level: 'silent' }) })

  const periodic = fleet.rosterChanged('acc_1') // reads [a]
  await new Promise(resolve => setImmediate(resolve))
  servers.push(server('srv_b', 'peer-b')) // enrolment committed
  const enrolment = fleet.rosterChanged('acc_1') // reads [a, b]
  await new Promise(resolve => setImmediate(resolve))
  t.equal(releases.length, 2, 'both reads are in flight')
  releases[1]?.()
  await enrolment
  t.equal(fleet.peerOf('acc_1', 'srv_b'), 'peer-b', 'the enrolment\'s read lists the new server')
  releases[0]?.()
  await periodic
  t.equal(fleet.peerOf('acc_1', 'srv_b'), 'peer-b', 'the older read, finishing last, leaves it listed')
  t.equal(fleet.peerOf('acc_1', 'srv_a'), 'peer-a', 'and the others too')
})
