// npm run demo: a local fleet on loopback — coordinator, three shield nodes with real
// HAProxy, one origin, a fake Cloudflare API — with a domain on nodes 1 and 2 in DNS
// failover (zone example.com, record shop.example.com). Prints what to try; Ctrl-C stops
// everything (nodes, HAProxy, coordinator) and removes the demo's data.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FAKE_CLOUDFLARE_TOKEN, LocalFleet } from './fleet/local-fleet.ts'

const HOST = 'shop.example.com'
const ZONE = 'example.com'
/** Documentation addresses: only A record values in the fake Cloudflare, no traffic goes there. */
const PUBLIC_IPS = ['203.0.113.1', '203.0.113.2', '203.0.113.3']
// Short path on purpose: HAProxy socket paths are limited to 97 bytes.
const baseDir = await mkdtemp(join(tmpdir(), 'lumos-demo-'))
console.log(`lumos demo: starting a coordinator and 3 shield nodes in ${baseDir} …`)
const fleet = await LocalFleet.start({ baseDir, nodeCount: 3, publicIps: PUBLIC_IPS, cloudflare: true, coordinatorEnv: { LUMOS_FAILOVER_HOLD_DOWN_S: '10' } })
let stopping = false
async function shutdown (code: number): Promise<void> {
  if (stopping) return
  stopping = true
  console.log('\nlumos demo: stopping nodes, HAProxy and the coordinator …')
  await fleet.stop()
  await rm(baseDir, { recursive: true, force: true })
  console.log('lumos demo: stopped.')
  process.exit(code)
}
process.once('SIGINT', () => { void shutdown(0) })
process.once('SIGTERM', () => { void shutdown(0) })

try {
  const originPort = await fleet.startOrigin('origin')
  fleet.addDnsRecord(ZONE, HOST, PUBLIC_IPS[0] as string)
  const [n1, n2, n3] = [fleet.node(1), fleet.node(2), fleet.node(3)]
  const { domain } = await fleet.api<{ domain: { id: string } }>('POST', `/v1/accounts/${fleet.accountId}/domains`, {
    hostname: HOST, servers: [n1.serverId, n2.serverId], origins: [{ address: '127.0.0.1', port: originPort }],
    failover: { enabled: true, zone: ZONE, record: HOST }
  })
  const api = `${fleet.coordinatorUrl}/v1/accounts/${fleet.accountId}`
  const auth = `-H 'authorization: Bearer ${fleet.adminKey}'`
  const cf = `-H 'authorization: Bearer ${FAKE_CLOUDFLARE_TOKEN}' ${fleet.cloudflare?.url ?? ''}`
  console.log(`
Lumos Gate demo fleet is up.

  coordinator API   ${fleet.coordinatorUrl}   (admin key: ${fleet.adminKey})
  account           ${fleet.accountId}
  shield-1          http://127.0.0.1:${n1.httpPort}   server ${n1.serverId}  (primary for ${HOST})
  shield-2          http://127.0.0.1:${n2.httpPort}   server ${n2.serverId}  (secondary)
  shield-3          http://127.0.0.1:${n3.httpPort}   server ${n3.serverId}  (not assigned)
  origin            http://127.0.0.1:${originPort}
  fake Cloudflare   ${fleet.cloudflare?.url ?? ''}   (token: ${FAKE_CLOUDFLARE_TOKEN})
  DNS               ${HOST} A ${PUBLIC_IPS[0]} (shield-1; shield-2 is ${PUBLIC_IPS[1]}), failover on, hold-down 10 s
  logs              ${join(baseDir, 'logs')}

Try:
  curl -H 'Host: ${HOST}' http://127.0.0.1:${n1.httpPort}/hello      # through shield-1 to the origin
  curl -H 'Host: ${HOST}' http://127.0.0.1:${n2.httpPort}/hello      # through shield-2
  curl -H 'Host: ${HOST}' http://127.0.0.1:${n3.httpPort}/hello      # 404: shield-3 does not serve it
  curl ${auth} ${api}/servers
  curl ${auth} ${api}/domains
  # a change is signed, gossiped and applied on every assigned shield within a second:
  curl -X PUT ${auth} -H 'content-type: application/json' ${api}/domains/${domain.id} \\
    -d '{"hostname":"${HOST}","aliases":["www.${HOST}"],"servers":["${n1.serverId}","${n2.serverId}"],"origins":[{"address":"127.0.0.1","port":${originPort}}]}'
  curl -H 'Host: www.${HOST}' http://127.0.0.1:${n2.httpPort}/
  # DNS failover: the A record, the servers' live status, the failover events
  curl -s ${cf}/zones?name=${ZONE}       # then: curl -s ${cf}/zones/<zone id>/dns_records?name.exact=${HOST}
  curl ${auth} ${api}/failover/events
  # a drill: shield-1 counts as down for 20 s, DNS moves to shield-2, and back 10 s after
  curl -X POST ${auth} -H 'content-type: application/json' ${api}/domains/${domain.id}/drill -d '{"seconds":20}'
  # a coordinator-only partition from shield-1 for 15 s: the peers still see it, nothing moves
  curl -X POST ${auth} -H 'content-type: application/json' ${api}/servers/${n1.serverId}/drill/partition -d '{"seconds":15}'
  # bad input is refused with a stable code and changes nothing:
  curl -X POST ${auth} -H 'content-type: application/json' ${api}/domains \\
    -d '{"hostname":"bad host","servers":["${n1.serverId}"],"origins":[{"address":"169.254.1.1"}]}'

Press Ctrl-C to stop.`)
} catch (err) {
  console.error('lumos demo: failed to start:', err)
  await shutdown(1)
}
