// V8 flags the shield daemon runs with (package.json `lumos-node`, LocalFleet, the README's
// systemd line). Node refuses them in NODE_OPTIONS, so they go on the command line.
// --optimize-for-size: V8 grows the heap less eagerly and gives memory back after a big
//   apply (a 10 000-domain decode + render leaves ~200 MB of heap behind without it).
// --max-semi-space-size=2 (MB): the young generation stays small; a render allocates in
//   short bursts, so more frequent scavenges cost little and the idle RSS drops.
// No --max-old-space-size: the live heap during a render grows with the account, and an
//   out-of-memory crash would stop config updates; the default limit is the safe one.
export const NODE_V8_FLAGS: readonly string[] = Object.freeze(['--optimize-for-size', '--max-semi-space-size=2'])
