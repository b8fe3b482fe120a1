// bench/lib/log-watch.ts follows pino log files by change events: appended lines are seen
// (also when a line or a character is split across writes, and for a file created after
// watching began), each version keeps the time of its first line, and a timeout names the
// files that never logged the version.
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { LogWatch } from '../../bench/lib/log-watch.ts'

const line = (msg: string, version: number, time: number, extra = ''): string => JSON.stringify({ msg, version, time, extra }) + '\n'

t.test('sees lines appended while waiting, across split writes and late files', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-logwatch-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const [a, b, late] = ['a.log', 'b.log', 'late.log'].map(name => join(dir, name)) as [string, string, string]
  await writeFile(a, line('version applied', 1, 1000) + 'not json\n')
  await writeFile(b, '')
  const watch = new LogWatch([a, b, late], ['version applied'])
  t.teardown(async () => { await watch.close() })

  const waiting = watch.waitAll('version applied', 2, 10_000)
  await new Promise(resolve => setTimeout(resolve, 50))
  await appendFile(a, line('version applied', 2, 2000))
  await appendFile(a, line('version applied', 3, 2500))
  // A line whose bytes arrive in two writes, cut inside a multi-byte character.
  const split = Buffer.from(line('version applied', 2, 2100, 'é'))
  const cut = split.indexOf(Buffer.from('é')) + 1
  await appendFile(b, split.subarray(0, cut))
  await new Promise(resolve => setTimeout(resolve, 50))
  await appendFile(b, split.subarray(cut))
  await writeFile(late, line('other message', 2, 1) + line('version applied', 4, 2200))

  t.same(await waiting, [2000, 2100, 2200], 'first time at or after the version, per file')
  t.equal(watch.lastVersion('version applied', a), 3)
  t.equal(watch.count('version applied', 2), 2, 'a and b logged version 2 itself')
  t.equal(watch.count('version applied', 1), 1)
})

t.test('a timeout names the files missing the version', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'lumos-logwatch-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const [a, b] = ['a.log', 'b.log'].map(name => join(dir, name)) as [string, string]
  await writeFile(a, line('version applied', 5, 1))
  await writeFile(b, line('version applied', 4, 1))
  const watch = new LogWatch([a, b], ['version applied'])
  t.teardown(async () => { await watch.close() })
  await t.rejects(watch.waitAll('version applied', 5, 600), /missing: .*b\.log \(last: 4\)/)
})
