// V8 flags the shield daemon runs with, on its command line (package.json `lumos-node`,
// LocalFleet, bench/gossip, the README's run line).
// --max-semi-space-size=2 (MB): the young generation stays small; a render allocates in
//   short bursts, so more frequent scavenges cost little and the idle RSS drops.
// --expose-gc: node/heap-release.ts gives the heap a large apply grew back to the system
//   (a 10 000-domain decode + render leaves ~35 MB of heap behind otherwise). It replaces
//   --optimize-for-size, which did that too but cost every change about a third more CPU
//   (bench/gossip, 20 nodes, node CPU per change 6.9-7.7 -> 9.4-10.5 ms, three runs each).
// No --max-old-space-size: the live heap during a render grows with the account, and an
//   out-of-memory crash would stop config updates; the default limit is the safe one.
export const NODE_V8_FLAGS: readonly string[] = Object.freeze(['--max-semi-space-size=2', '--expose-gc'])
