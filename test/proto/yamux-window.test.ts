// proto/yamux-window.ts between two real libp2p mesh peers on loopback: a stream that
// receives hundreds of small messages sends a window update per half window, not one per
// message, and a message far larger than the window still arrives whole (flow control works).
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import t from 'tap'
import { createMeshPeer, newPeerKey } from '../../proto/mesh-peer.ts'

const PROTOCOL = '/lumos/test/window/1'
const SMALL = 400
const WINDOW_UPDATE = 1 // yamux frame type

t.test('window updates once half the window is used, and large messages still flow', async t => {
  const [sender, receiver] = await Promise.all([0, 1].map(async () => await createMeshPeer({ privateKey: await newPeerKey(), listen: ['/ip4/127.0.0.1/tcp/0'] })))
  t.teardown(async () => { await Promise.all([sender?.stop(), receiver?.stop()]) })
  const large = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251)
  let windowUpdates = 0
  const received = new Promise<{ small: number, large: Uint8Array }>((resolve, reject) => {
    void receiver?.handle(PROTOCOL, async (stream: Stream) => {
      // Count the window update frames this side of the stream sends.
      const yamux = stream as unknown as { sendFrame: (header: { type: number }, data?: unknown) => void }
      const sendFrame = yamux.sendFrame
      yamux.sendFrame = (header, data) => { if (header.type === WINDOW_UPDATE) windowUpdates++; sendFrame(header, data) }
      const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
      try {
        let small = 0
        for (let i = 0; i < SMALL; i++) small += (await lp.read()).byteLength
        resolve({ small, large: (await lp.read()).subarray() })
      } catch (err) { reject(err as Error) }
    })
  })
  if (sender === undefined || receiver === undefined) throw new Error('peers not created')
  const stream = await sender.dialProtocol(receiver.getMultiaddrs(), PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
  for (let i = 0; i < SMALL; i++) await lp.write(new Uint8Array(200).fill(i % 256))
  await lp.write(large)
  const got = await received
  t.equal(got.small, SMALL * 200, 'every small message arrived')
  t.equal(Buffer.compare(Buffer.from(got.large), Buffer.from(large)), 0, 'the 3 MB message arrived whole')
  // 80 KB of small messages fit in half the 256 KB window: no update for them. The 3 MB
  // message needs some (about one per 128 KB or more as the window grows), far fewer than
  // one per frame (the original sends one for each of the 400 small frames alone).
  t.ok(windowUpdates > 0 && windowUpdates < 60, `window updates sent: ${windowUpdates}`)
  await stream.close()
})
