// Yamux flow control as the other libp2p implementations do it. @chainsafe/libp2p-yamux
// (8.x) answers every data frame it receives with a window update frame, so each gossip
// message (a heartbeat, a config version) costs its receiver one more frame to encrypt and
// write and its sender one more wake-up to read it. rust-yamux and go-yamux send the update
// once half of the receive window is used; this does the same, through the one method that
// decides it. The sender may always use what is left of the window, so no write waits on
// it; streams opening or closing (flags to send) and paused streams keep the original path.
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

interface ReceiveWindow { state: StreamState, recvWindow: number, recvWindowCapacity: number }

let installed = false

export function sendWindowUpdatesAtHalf (): void {
  if (installed) return
  installed = true
  const original = YamuxStream.prototype.sendWindowUpdate
  YamuxStream.prototype.sendWindowUpdate = function (this: YamuxStream): void {
    const window = this as unknown as ReceiveWindow
    if (window.state === StreamState.Established && window.recvWindowCapacity >= window.recvWindow / 2) return
    original.call(this)
  }
}
