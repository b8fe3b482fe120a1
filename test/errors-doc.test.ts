// Keeps the error catalogs, docs/errors.md and the codes the source raises in step.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { COORDINATOR_ERRORS } from '../coordinator/errors.ts'
import { NODE_ERRORS } from '../node/errors.ts'
import { SHARED_ERRORS } from '../proto/errors.ts'

const root = new URL('..', import.meta.url).pathname
const catalogCodes = new Set([...Object.keys(SHARED_ERRORS), ...Object.keys(COORDINATOR_ERRORS), ...Object.keys(NODE_ERRORS)])

/** Table rows of docs/errors.md: | `CODE` | HTTP | meaning | what to do | */
const docRows = readFileSync(join(root, 'docs/errors.md'), 'utf8').split('\n')
  .map(line => /^\| `([A-Z0-9_]+)` \| ([^|]*) \|/.exec(line))
  .filter(match => match !== null)
  .map(match => ({ code: match[1] as string, http: (match[2] as string).trim() }))
const docCodes = new Set(docRows.map(row => row.code))

/** Codes raised in the source: new LumosError('X', coordinatorError('X', and API answers { code: 'X' }. */
function codesRaisedIn (dir: string): Array<{ code: string, file: string }> {
  const found: Array<{ code: string, file: string }> = []
  for (const entry of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue
    const file = join(dir, entry)
    const text = readFileSync(join(root, file), 'utf8')
    for (const match of text.matchAll(/(?:new LumosError|coordinatorError)\(\s*'([A-Z0-9_]+)'|\bcode: '([A-Z0-9_]+)'/g)) {
      found.push({ code: (match[1] ?? match[2]) as string, file })
    }
  }
  return found
}

t.test('docs/errors.md has a table row for every code of every catalog', async t => {
  t.same([...catalogCodes].filter(code => !docCodes.has(code)), [])
})

t.test('every code in the docs/errors.md tables exists in a catalog', async t => {
  t.ok(docRows.length >= catalogCodes.size, 'the tables were parsed')
  t.same([...docCodes].filter(code => !catalogCodes.has(code)), [])
})

t.test('docs/errors.md lists each code once', async t => {
  t.equal(docRows.length, docCodes.size)
})

t.test('the HTTP status in docs/errors.md matches the coordinator catalog', async t => {
  for (const [code, { status }] of Object.entries(COORDINATOR_ERRORS)) {
    t.equal(docRows.find(row => row.code === code)?.http, String(status), code)
  }
})

t.test('every error code raised in the source is in a catalog', async t => {
  const raised = ['proto', 'coordinator', 'node'].flatMap(codesRaisedIn)
  t.ok(raised.length > 20, 'the source scan found the raised codes')
  t.same(raised.filter(({ code }) => !catalogCodes.has(code)), [])
})
