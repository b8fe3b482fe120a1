// POST /v1/enroll: a shield node exchanges its connection token for its identity in the
// fleet (server id, account id), the coordinator public key it will pin, and the
// bootstrap peers. The node's libp2p peer id is bound to the server on first use;
// re-enrolling with the same peer id is idempotent, another peer id is refused.
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { FastifyInstance } from 'fastify'
import { configTopic } from '../../proto/mesh-peer.ts'
import { coordinatorError } from '../errors.ts'
import type { ServerRecord } from '../model.ts'
import { sha256Hex } from './auth.ts'
import type { ApiContext } from './context.ts'

interface EnrollBody {
  token: string
  peerId: string
  multiaddrs: string[]
  agentVersion?: string
}

const enrollSchema = {
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['token', 'peerId', 'multiaddrs'],
    properties: {
      token: { type: 'string', minLength: 10, maxLength: 200 },
      peerId: { type: 'string', minLength: 10, maxLength: 200 },
      multiaddrs: { type: 'array', maxItems: 16, items: { type: 'string', minLength: 1, maxLength: 200 } },
      agentVersion: { type: 'string', maxLength: 50 }
    }
  }
} as const

function checkPeer (body: EnrollBody): void {
  try {
    peerIdFromString(body.peerId)
  } catch (err) {
    throw coordinatorError('INVALID_PEER_ID', `peer id ${body.peerId} does not parse: ${(err as Error).message}`)
  }
  for (const addr of body.multiaddrs) {
    try {
      multiaddr(addr)
    } catch {
      throw coordinatorError('VALIDATION_FAILED', `multiaddr ${addr} does not parse`)
    }
  }
}

export async function enrollRoutes (app: FastifyInstance, ctx: ApiContext): Promise<void> {
  app.post<{ Body: EnrollBody }>('/v1/enroll', { schema: enrollSchema }, async (request) => {
    checkPeer(request.body)
    const owner = await ctx.store.getServerToken(sha256Hex(request.body.token))
    if (owner === undefined) throw coordinatorError('INVALID_TOKEN', 'unknown connection token; copy it again from the server creation answer, or re-create the server')
    const server = await ctx.versions.commit(owner.accountId, async (state) => {
      const current = state.servers.find(s => s.id === owner.serverId)
      if (current === undefined || current.status === 'decommissioned') throw coordinatorError('INVALID_TOKEN', 'this server was decommissioned; create a new server')
      if (current.peerId !== '' && current.peerId !== request.body.peerId) {
        throw coordinatorError('TOKEN_ALREADY_USED', `server ${current.id} is bound to another node identity; decommission it and create a new server`)
      }
      const record: ServerRecord = {
        ...current,
        peerId: request.body.peerId,
        multiaddrs: [...request.body.multiaddrs].sort(),
        status: current.status === 'pending' ? 'online' : current.status,
        enrolledAt: current.enrolledAt ?? new Date(ctx.now()).toISOString()
      }
      return { ops: [{ type: 'server', value: record }], result: record }
    })
    await ctx.mesh.admitPeer(server.accountId, server.peerId)
    request.log.info({ account: server.accountId, server: server.id, peer: server.peerId }, 'server enrolled')
    return {
      serverId: server.id,
      accountId: server.accountId,
      coordinatorPublicKey: ctx.mesh.publicKey,
      coordinatorPeerId: ctx.mesh.peerId,
      bootstrap: ctx.mesh.multiaddrs(),
      configTopic: configTopic(server.accountId)
    }
  })
}
