// proto/tcp-coalesce.ts between two real libp2p mesh peers on loopback: each message sent on
// a stream reaches the kernel in one socket write (noise's length prefix and ciphertext
// together), where @libp2p/tcp alone makes two, and the messages arrive intact.
import { Socket } from 'node:net'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import t from 'tap'
import { createMeshPeer, newPeerKey } from '../../proto/mesh-peer.ts'

const PROTOCOL = '/lumos/test/coalesce/1'
const MESSAGES = 200

t.test('one socket write per message sent', async t => {
  const [sender, receiver] = await Promise.all([0, 1].map(async () => await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })))
  t.teardown(async () => { await Promise.all([sender?.stop(), receiver?.stop()]) })
  if (sender === undefined || receiver === undefined) throw new Error('peers not created')
  const received = new Promise<number[]>((resolve, reject) => {
    void receiver.handle(PROTOCOL, async (stream: Stream) => {
      const lp = lpStream(stream)
      try {
        const firstBytes: number[] = []
        for (let i = 0; i < MESSAGES; i++) {
          const message = (await lp.read()).subarray()
          if (message.byteLength !== 180 || message.some(byte => byte !== message[0])) throw new Error(`message ${i} arrived damaged`)
          firstBytes.push(message[0] as number)
        }
        resolve(firstBytes)
      } catch (err) { reject(err as Error) }
    })
  })
  const stream = await sender.dialProtocol(receiver.getMultiaddrs(), PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(new Uint8Array(180).fill(255))
  // Every write either peer makes from here on hands its data to the kernel through
  // _writeGeneric (one write or writev syscall each).
  const socket = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown }
  const writeGeneric = socket._writeGeneric
  let writes = 0
  socket._writeGeneric = function (this: unknown, ...args: unknown[]) { writes++; return writeGeneric.apply(this, args) }
  t.teardown(() => { socket._writeGeneric = writeGeneric })
  for (let i = 1; i < MESSAGES; i++) {
    await lp.write(new Uint8Array(180).fill(i % 256))
    // One message per event-loop turn, as heartbeats go: nothing to batch them.
    await new Promise(resolve => setImmediate(resolve))
  }
  const firstBytes = await received
  socket._writeGeneric = writeGeneric
  t.same(firstBytes, Array.from({ length: MESSAGES }, (_, i) => i === 0 ? 255 : i % 256), 'every message arrived, in order')
  // 199 messages: 199 writes (the receiver sends nothing back, proto/yamux-window.ts);
  // @libp2p/tcp alone makes 398.
  t.ok(writes >= MESSAGES - 1 && writes < (MESSAGES - 1) * 1.2, `socket writes for ${MESSAGES - 1} messages: ${writes}`)
  await stream.close()
})
