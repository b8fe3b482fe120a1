// scripts/fleet/port-claims.ts: one live process per claimed port on the machine; claims of
// processes that are gone are taken over. Ports below 1024, which freePort never picks.
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { claimPort, PORT_CLAIMS_DIR } from '../../scripts/fleet/port-claims.ts'

const file = (port: number): string => join(PORT_CLAIMS_DIR, String(port))

t.test('a port is claimed once; a live claimer keeps it; a dead one loses it', async t => {
  const [free, heldByLive, heldByDead] = [1021, 1022, 1023]
  mkdirSync(PORT_CLAIMS_DIR, { recursive: true })
  t.teardown(() => { for (const port of [free, heldByLive, heldByDead]) rmSync(file(port), { force: true }) })
  for (const port of [free, heldByLive, heldByDead]) rmSync(file(port), { force: true })

  t.ok(claimPort(free), 'an unclaimed port is claimed')
  t.equal(readFileSync(file(free), 'utf8'), String(process.pid), 'the claim names this process')
  t.notOk(claimPort(free), 'and is not handed out twice')

  writeFileSync(file(heldByLive), String(process.ppid))
  t.notOk(claimPort(heldByLive), 'a port claimed by a live process (the test runner) is left to it')

  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  writeFileSync(file(heldByDead), dead.stdout)
  t.ok(claimPort(heldByDead), 'a port claimed by a process that has exited is taken over')
  t.equal(readFileSync(file(heldByDead), 'utf8'), String(process.pid))
})
