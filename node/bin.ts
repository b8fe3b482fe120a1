#!/usr/bin/env node
// lumos-node (systemd unit lumos-agent): the shield daemon. Config from the environment;
// SIGTERM/SIGINT stop the daemon and leave HAProxy serving, unless LUMOS_STOP_HAPROXY=1.
import { pino } from 'pino'
import { readNodeConfig } from './config.ts'
import { startNode } from './index.ts'

const redact = ['token', '*.token', 'LUMOS_TOKEN']
let logger = pino({ base: { service: 'lumos-node' }, redact })
try {
  const config = readNodeConfig(process.env)
  logger = pino({ level: config.logLevel, base: { service: 'lumos-node' }, redact })
  const node = await startNode(config, logger)
  const shutdown = (): void => {
    logger.info('node stopping')
    node.stop({ stopHaproxy: config.stopHaproxyOnExit }).then(() => process.exit(0), (err: unknown) => { logger.error({ err }, 'stop failed'); process.exit(1) })
  }
  process.once('SIGINT', shutdown)
  process.once('SIGTERM', shutdown)
} catch (err) {
  logger.fatal({ err }, 'lumos-node failed to start')
  process.exit(1)
}
