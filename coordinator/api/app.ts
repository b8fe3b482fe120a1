// Builds the coordinator's fastify instance (not listening: index.ts listens, tests inject).
// Errors become { code, message } with the status from the catalog.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { isLumosError } from '../../proto/lumos-error.ts'
import type { ConfigVersions } from '../config-versions.ts'
import type { Notifier } from '../notify/notifier.ts'
import type { CoordinatorStore } from '../store/store.ts'
import { accountRoutes, notFound } from './accounts.ts'
import { adminRoutes, type KeyRotator } from './admin.ts'
import { createAuthenticator } from './auth.ts'
import type { ApiContext, FailoverControl, FleetControl, MeshIdentity } from './context.ts'
import { domainRoutes } from './domains.ts'
import { enrollRoutes } from './enroll.ts'
import { failoverRoutes } from './failover.ts'
import { notificationRoutes } from './notifications.ts'
import { serverRoutes } from './servers.ts'

export interface ApiInit {
  store: CoordinatorStore
  versions: ConfigVersions
  mesh: MeshIdentity
  adminKeyHash: string
  now: () => number
  logger: Logger
  /** Webhook notifications; without it the /channels routes are not registered. */
  notifier?: Notifier
  /** Rotates the signing key; without it POST /v1/admin/rotate-signing-key is not registered. */
  signer?: KeyRotator
  /** Live server statuses and the partition drill; without it servers show their stored status. */
  fleet?: FleetControl
  /** Failover events and drills; without them GET …/failover/events is empty and drills are refused. */
  failover?: FailoverControl
}

export async function buildApi (init: ApiInit): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: init.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // fastify's default ajv strips unknown fields; we reject them (additionalProperties: false → 400).
    ajv: { customOptions: { removeAdditional: false } }
  })
  const auth = createAuthenticator(init.store, init.adminKeyHash)
  const ctx: ApiContext = {
    store: init.store,
    versions: init.versions,
    auth,
    mesh: init.mesh,
    now: init.now,
    notifier: init.notifier,
    fleet: init.fleet,
    failover: init.failover,
    async loadAccount (request, accountId) {
      await auth.requireAccount(request, accountId)
      const account = await init.store.getAccount(accountId)
      if (account === undefined) throw notFound('account', accountId)
      return account
    }
  }

  app.setErrorHandler((err, request, reply) => {
    if (isLumosError(err) && err.status < 500) {
      request.log.info({ code: err.code }, 'request rejected')
      return reply.code(err.status).send({ code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) })
    }
    const fastifyError = err as { validation?: unknown, statusCode?: number, message: string }
    if (fastifyError.validation !== undefined || fastifyError.statusCode === 400 || fastifyError.statusCode === 415) {
      return reply.code(400).send({ code: 'VALIDATION_FAILED', message: fastifyError.message })
    }
    request.log.error({ err }, 'request failed')
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error; see the coordinator log' })
  })
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` }))

  app.get('/v1/health', async () => ({ ok: true, peerId: init.mesh.peerId }))
  await app.register(async (scope) => { await accountRoutes(scope, ctx) })
  await app.register(async (scope) => { await serverRoutes(scope, ctx) })
  await app.register(async (scope) => { await domainRoutes(scope, ctx) })
  await app.register(async (scope) => { await enrollRoutes(scope, ctx) })
  await app.register(async (scope) => { await notificationRoutes(scope, ctx) })
  await app.register(async (scope) => { await failoverRoutes(scope, ctx) })
  if (init.signer !== undefined) { const signer = init.signer; await app.register(async (scope) => { await adminRoutes(scope, ctx, signer) }) }
  return app
}
