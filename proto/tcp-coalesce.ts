// One socket write per send on the mesh's TCP connections. @libp2p/tcp (11.x) passes each
// chunk of what a connection sends to its own socket.write, and noise hands it every frame
// as two chunks (the 2-byte length, then the ciphertext). With TCP_NODELAY that is two
// syscalls and two TCP segments per message (a heartbeat, a config version), and often two
// reads and wake-ups on the receiving side. Corking the socket around a send (up to 16 KB)
// makes Node hand all its chunks to the kernel in one writev. The transport is wrapped, not
// patched: the upgrader it is given sees every raw connection, dialled or accepted, before
// anything is written on it.
import { Socket } from 'node:net'
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import { tcp, type TCPComponents, type TCPOptions } from '@libp2p/tcp'

interface Sender { sendData: (data: { byteLength: number }) => unknown }

/** Sends up to this size are corked into one write: heartbeats, control frames, small versions. */
const CORK_UP_TO_BYTES = 16 * 1024

export function coalescingTcp (init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init)
  return (components) => {
    const transport = factory(components)
    const dial = transport.dial.bind(transport)
    const createListener = transport.createListener.bind(transport)
    transport.dial = async (address, options) => await dial(address, { ...options, upgrader: coalescingUpgrader(options.upgrader) })
    transport.createListener = (options) => createListener({ ...options, upgrader: coalescingUpgrader(options.upgrader) })
    return transport
  }
}

function coalescingUpgrader (upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get (target, property) {
      if (property === 'upgradeInbound') return async (connection: MultiaddrConnection, options: never) => { await target.upgradeInbound(writeOncePerSend(connection), options) }
      if (property === 'upgradeOutbound') return async (connection: MultiaddrConnection, options: never) => await target.upgradeOutbound(writeOncePerSend(connection), options)
      const value: unknown = Reflect.get(target, property)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
}

/** Corks the connection's socket while it hands one send's chunks over (a per-connection override of sendData). */
export function writeOncePerSend (connection: MultiaddrConnection): MultiaddrConnection {
  const socket = (connection as unknown as { socket?: unknown }).socket
  if (!(socket instanceof Socket)) return connection
  const sender = connection as unknown as Sender
  const sendData = sender.sendData
  sender.sendData = function (this: Sender, data: { byteLength: number }): unknown {
    // A large send (a version of hundreds of KB, in 64 KB noise frames) keeps the original
    // path: a separate 2-byte write is nothing next to its frames, and corked it was no
    // faster (bench/gossip, 20 nodes × 198 KB).
    if (data.byteLength > CORK_UP_TO_BYTES) return sendData.call(this, data)
    socket.cork()
    try {
      return sendData.call(this, data)
    } finally {
      socket.uncork()
    }
  }
  return connection
}
