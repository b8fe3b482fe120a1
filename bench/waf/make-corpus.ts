// Writes the WAF corpus fixtures (test/fixtures/waf/attacks.jsonl, benign.jsonl) from
// corpus-attacks.ts and corpus-benign.ts. Run: node bench/waf/make-corpus.ts
import { mkdirSync, writeFileSync } from 'node:fs'
import { attackCorpus } from './corpus-attacks.ts'
import { benignCorpus } from './corpus-benign.ts'
import { toJsonl } from './corpus-shape.ts'

const dir = new URL('../../test/fixtures/waf/', import.meta.url)
mkdirSync(dir, { recursive: true })
const attacks = attackCorpus()
const benign = benignCorpus()
writeFileSync(new URL('attacks.jsonl', dir), toJsonl(attacks))
writeFileSync(new URL('benign.jsonl', dir), toJsonl(benign))
const counts: Record<string, number> = {}
for (const r of attacks) counts[r.class] = (counts[r.class] ?? 0) + 1
process.stdout.write(JSON.stringify({ attacks: attacks.length, benign: benign.length, perClass: counts }) + '\n')
