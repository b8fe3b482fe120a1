#!/usr/bin/env node
// lumos-coordinator: reads its config from the environment and runs until SIGINT/SIGTERM.
import { pino } from 'pino'
import { readCoordinatorConfig } from './config.ts'
import { startCoordinator } from './index.ts'

const redact = ['token', 'apiKey', '*.token', '*.apiKey', 'req.headers.authorization']
let logger = pino({ base: { service: 'coordinator' }, redact })
try {
  const config = readCoordinatorConfig(process.env)
  logger = pino({ level: config.logLevel, base: { service: 'coordinator' }, redact })
  const coordinator = await startCoordinator(config, logger)
  const shutdown = (): void => {
    logger.info('coordinator stopping')
    coordinator.stop().then(() => process.exit(0), (err: unknown) => { logger.error({ err }, 'stop failed'); process.exit(1) })
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
} catch (err) {
  logger.fatal({ err }, 'coordinator failed to start')
  process.exit(1)
}
