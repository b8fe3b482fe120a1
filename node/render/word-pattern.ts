// A word list (the scanner user agents of lua/waf/scanners.txt) as one caseless PCRE2
// substring pattern for haproxy.cfg. A flat `a|b|c` alternation tries every word at every
// position of the sample: ~28k instructions on a browser's User-Agent whenever HAProxy's
// pattern cache misses (a User-Agent it has not seen lately). Factored as a trie, one
// character decides between the branches at each step. A word containing another listed
// word is dropped: whatever contains it contains the shorter word, so the matches are the same.
import { readFileSync } from 'node:fs'

/** The words of a list file (one per line, # comments), lowercased; throws when it lists none. */
export function listedWords (file: string): string[] {
  const words = readFileSync(file, 'utf8').split('\n').map(line => line.trim().toLowerCase()).filter(line => line !== '' && !line.startsWith('#'))
  if (words.length === 0) throw new Error(`${file} lists no word`)
  return words
}

/** Escapes a literal for a PCRE2 pattern written in haproxy.cfg (no blanks, quotes or backslashes left for the config parser). */
export function regexLiteral (text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, c => String.raw`\\x` + `${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

interface TrieNode { word: boolean, next: Map<string, TrieNode> }

/** `(?i:…)` matching, as a substring, any of `words` (lowercase). */
export function wordsPattern (words: readonly string[]): string {
  const kept = words.filter(word => !words.some(other => other !== word && word.includes(other)))
  const root: TrieNode = { word: false, next: new Map() }
  for (const word of new Set(kept)) {
    let node = root
    for (const c of word) {
      let child = node.next.get(c)
      if (child === undefined) { child = { word: false, next: new Map() }; node.next.set(c, child) }
      node = child
    }
    node.word = true
  }
  // A kept word is never a prefix of another kept word, so a word ends its branch.
  const branch = (node: TrieNode): string => {
    const alternatives = [...node.next.entries()].sort(([a], [b]) => a < b ? -1 : 1).map(([c, child]) => regexLiteral(c) + (child.word ? '' : branch(child)))
    return alternatives.length === 1 ? alternatives[0]! : `(?:${alternatives.join('|')})`
  }
  return `(?i:${branch(root)})`
}
