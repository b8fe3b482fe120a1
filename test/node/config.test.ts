// readNodeConfig: the heartbeat pace follows the liveness preset unless LUMOS_HEARTBEAT_MS sets it.
import t from 'tap'
import { readNodeConfig } from '../../node/config.ts'
import { LAN, WAN, SEED_COMPAT } from '../../node/liveness/constants.ts'

const base = { LUMOS_COORDINATOR: 'http://127.0.0.1:7700', LUMOS_DATA_DIR: '/tmp/lumos-config-test' }

t.test('the heartbeat interval is the preset\'s unless LUMOS_HEARTBEAT_MS is set', async t => {
  t.equal(readNodeConfig(base).heartbeatIntervalMs, LAN.heartbeatIntervalMs, 'LAN by default: 1 s')
  t.equal(readNodeConfig({ ...base, LUMOS_LIVENESS_PRESET: 'wan' }).heartbeatIntervalMs, WAN.heartbeatIntervalMs, 'WAN: 2 s, what its failure detector expects')
  t.equal(readNodeConfig({ ...base, LUMOS_LIVENESS_PRESET: 'seed' }).heartbeatIntervalMs, SEED_COMPAT.heartbeatIntervalMs, 'seed compatibility: 30 s')
  t.equal(readNodeConfig({ ...base, LUMOS_LIVENESS_PRESET: 'wan', LUMOS_HEARTBEAT_MS: '1500' }).heartbeatIntervalMs, 1500, 'LUMOS_HEARTBEAT_MS wins')
  t.throws(() => readNodeConfig({ ...base, LUMOS_HEARTBEAT_MS: '10' }), { code: 'BAD_CONFIG' }, 'an interval under 50 ms is refused')
  t.throws(() => readNodeConfig({ ...base, LUMOS_LIVENESS_PRESET: 'moon' }), { code: 'BAD_CONFIG' }, 'an unknown preset is refused')
})
