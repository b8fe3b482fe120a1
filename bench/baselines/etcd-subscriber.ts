// One etcd watch subscriber in its own process (forked by etcd-watch.ts with
// 'node-processes'): watches the key given as argv [url, base64 key] and tells the
// parent when each revision arrived, on the machine-wide monotonic clock.
import { monotonicMs, readWatch } from './etcd-watch.ts'

const [url, key] = process.argv.slice(2) as [string, string]
const response = await fetch(`${url}/v3/watch`, { method: 'POST', body: JSON.stringify({ create_request: { key } }) })
process.send?.({ type: 'watching' })
process.on('disconnect', () => process.exit(0))
await readWatch(response, revision => { process.send?.({ type: 'event', revision, at: monotonicMs() }) })
