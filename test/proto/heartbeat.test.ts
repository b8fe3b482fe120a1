import t from 'tap'
import type { Heartbeat } from '../../proto/codec.ts'
import { decodeHeartbeat, encodeHeartbeat, MAX_HEARTBEAT_BYTES } from '../../proto/heartbeat.ts'

const heartbeat: Heartbeat = {
  serverId: 'srv_000000000001',
  peerId: '12D3KooWGzRkJf3f5jvXG5x8X3qxKp1XQqf9Gk7d3QYkqM3wVw7b',
  appliedVersion: 42,
  appliedHash: new Uint8Array(32).fill(7),
  sentAtMs: 1_700_000_000_000,
  haproxyHealthy: true
}

t.test('a heartbeat survives encode and decode and stays small', async t => {
  const bytes = encodeHeartbeat(heartbeat)
  t.ok(bytes.length < 160, `${bytes.length} bytes`)
  t.same(decodeHeartbeat(bytes), heartbeat)
})

t.test('a heartbeat of a peer that holds no version has an empty hash', async t => {
  t.same(decodeHeartbeat(encodeHeartbeat({ ...heartbeat, appliedVersion: 0, appliedHash: new Uint8Array() })).appliedHash, new Uint8Array())
})

t.test('malformed heartbeats are refused with MALFORMED_MESSAGE', async t => {
  const cases: Array<[string, Uint8Array]> = [
    ['bytes over the size bound', new Uint8Array(MAX_HEARTBEAT_BYTES + 1)],
    ['bytes that are not protobuf', new TextEncoder().encode('not a heartbeat, just text!')],
    ['an empty server id', encodeHeartbeat({ ...heartbeat, serverId: '' })],
    ['an empty peer id', encodeHeartbeat({ ...heartbeat, peerId: '' })],
    ['an oversized server id', encodeHeartbeat({ ...heartbeat, serverId: 'x'.repeat(200) })],
    ['a hash that is not 32 bytes', encodeHeartbeat({ ...heartbeat, appliedHash: new Uint8Array(31) })]
  ]
  for (const [name, bytes] of cases) t.throws(() => decodeHeartbeat(bytes), { code: 'MALFORMED_MESSAGE' }, name)
})
