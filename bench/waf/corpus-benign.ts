// Benign side of the WAF corpus (test/fixtures/waf/benign.jsonl): ordinary traffic that
// looks suspicious to keyword rules — search terms with select / union / exec / drop /
// script, names with apostrophes, prose with & ; | and file paths, code snippets in
// comments, JSON APIs, GraphQL, URLs in ordinary parameters, real browser and API client
// user agents, analytics cookies. Regenerate: node bench/waf/make-corpus.ts
import { type CorpusRequest, Rng, formRequest, jsonRequest, queryRequest } from './corpus-shape.ts'

const SEARCH = [
  'select a plan', 'union station chicago', 'exec summary template', 'drop shipping suppliers', 'script writing course', 'rock \'n\' roll hall of fame',
  'cats & dogs', 'AT&T phone plans', 'how to select multiple rows in excel', 'sql union vs join', 'best 1 or 2 bedroom apartments', 'delete my account',
  'update billing address', 'insert coin arcade', 'create table football', 'where is the nearest pharmacy', 'order by phone', 'group by category',
  'javascript: the good parts', 'c# vs java', '50% off sale', '5\' 10" height', 'salt & pepper; garlic', 'sleep (8 hours) tips', 'alert system for seniors',
  'prompt engineering guide', 'confirm email not received', 'echo dot 4th gen', 'cat food grain free', 'ping pong table', 'id card renewal', 'find my iphone',
  'who won the game last night', 'more or less', 'a < b < c', 'price < $50', 'x<y inequality', 'i <3 nyc t-shirt', 'mother\'s day gifts', 'don\'t stop believin\'',
  'union jack flag', 'selection sort algorithm', 'executive chair', 'drop-down menu css', 'screenplay vs script', 'table of contents', 'sleeping bag -20',
  'ls engine swap', 'kids\' shoes size 12', 'the office s01e01', 'R&D tax credit', 'Q&A session', 'tom & jerry', 'procter & gamble', 'black & decker drill',
  'what is 1+1', 'the "best" pizza', 'null pointer exception java', 'true crime podcast', 'false eyelashes', 'case study template', 'between two ferns',
  'having a baby checklist', 'order of the phoenix', 'wait for delay pedal', 'shell gas station near me', 'python list comprehension', 'bash vs zsh',
  'php vs node', 'curl hair products', 'wget alternative for windows', 'c:\\ drive full', 'home/office desk', 'ÜBER café naïve résumé', '日本語 テスト',
  'iphone 15 pro (256gb)', 'dell xps 13 - 2024', 'size 10.5 | wide', '#hashtag trends', '@mention etiquette', 'email: john@example.com', '1/2 cup sugar',
  'where \'s my order', 'love; actually', 'on sale now', 'onload event javascript', 'document.cookie tutorial', 'eval function python', 'import csv python'
]

const NAMES = [
  "Seán O'Brien", "D'Angelo Russell", "Mary-Jane O'Connor", 'Zoë Saldaña', 'José Núñez', "François L'Écuyer", "Conan O'Neil", 'Anne-Marie Smith',
  "Jean d'Arc", "Shaquille O'Neal", "Miles O'Keefe", 'Dr. Select', 'Union Bank Ltd', 'Drop Co.', "Rock 'n' Roll Diner", 'Smith & Sons', 'Procter & Gamble',
  'A&B Plumbing; Heating', 'Script Studios', 'Exec Solutions Inc.'
]

const COMMENTS = [
  'Great post! I tried SELECT * FROM users WHERE id = 1 in my test db and it worked.', 'You can union the two result sets and then select distinct rows.',
  "Use `git log --oneline | head -5` to see recent commits.", "I'd drop the table and recreate it, honestly.", 'The script runs every night at 2am; it takes about 5 minutes.',
  'Try this: const x = a < b ? a : b;', "document.getElementById('btn').addEventListener('click', () => save())", '$(document).ready(function () { init(); });',
  'for i in range(10): print(i)', "SELECT name, email FROM customers WHERE country = 'DE' ORDER BY name;", 'if (a && b) { return -1; } else { return 0; }',
  '<p>Hello <b>world</b></p>', '<a href="https://example.com/docs">see the docs</a>', "import Button from '../components/Button'",
  'Run npm install && npm test before pushing.', 'It costs $5 & shipping is free; great deal!', "It's 5 o'clock somewhere -- cheers!", 'My favourite shell is zsh | fish is nice too',
  'The config lives in /home/alice/.config/app/settings.json on my machine.', 'On Windows it is C:\\Program Files\\App\\config.ini by default.',
  'I read /var/log/syslog and saw the cron job fail.', 'Edit /etc/hosts to point the domain at 127.0.0.1 while testing.',
  'Thanks!!! This saved me hours :-)', 'Does this work with Node 24? I get "TypeError: x is not a function".', 'Price went from $10 -> $12 (20% more) :(',
  'email me at bob.smith+news@example.co.uk', "What's the difference between 'union' and 'union all'?", 'x = [1, 2, 3]; y = x.map(v => v * 2)',
  "print(f'Hello {name}!')", 'SELECT COUNT(*) FROM orders GROUP BY status HAVING COUNT(*) > 10', 'The Union Select Committee met on Tuesday.',
  'Exec summary: revenue up 10%, costs down 5%.', 'Drop me a line; I am around all week.', 'We should update the select options in the dropdown.',
  "curl -X POST https://api.example.com/v1/items -d '{\"a\":1}'", 'use <br> for line breaks, not <p></p>', 'Call 1-800-555-0199 or email support.',
  'Hi, my order #12345 never arrived. Could you check? Thanks, Pat', 'I love this recipe <3 -- made it twice already!', 'Wait for delay() to resolve, then call next().'
]

const GRAPHQL = [
  'query GetUser($id: ID!) { user(id: $id) { name email posts(first: 5) { title } } }', 'mutation { createPost(input: {title: "Union select tips", body: "hi"}) { id } }',
  'query { search(term: "drop table") { id title } }', '{ products(filter: {category: "scripts"}, orderBy: PRICE_ASC) { edges { node { id name } } } }',
  'mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { token } }', 'query { viewer { repositories(last: 3) { nodes { name } } } }',
  'subscription { messageAdded(room: "general") { text author } }', 'query Q { a: user(id: 1) { id } b: user(id: 2) { id } }',
  'fragment F on User { id name } query { me { ...F } }', 'query { orders(where: {status: {_eq: "shipped"}}) { id total } }'
]

const URL_PARAMS: Array<[string, string]> = [
  ['redirect', 'https://app.example.com/dashboard?tab=1'], ['url', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ'], ['website', 'http://myblog.example.org'],
  ['callback', 'https://client.example.com/oauth/callback'], ['image', 'https://cdn.example.com/img/cat.png'], ['ref', 'https://google.com/search?q=shoes'],
  ['next', '/account/orders'], ['return_to', 'https://shop.example.com/cart'], ['link', 'https://en.wikipedia.org/wiki/SQL'], ['source', 'https://news.example.com/a/123'],
  ['avatar', 'https://gravatar.com/avatar/abc123?s=200'], ['homepage', 'https://example.dev'], ['feed', 'https://example.com/rss.xml'], ['share', 'https://twitter.com/intent/tweet?text=hi'],
  ['redirect_uri', 'http://localhost:3000/auth/callback'], ['u', 'https://docs.example.com/guide/install.html'], ['target', 'https://example.com/#section-2'],
  ['site', 'https://www.example.com'], ['origin', 'https://partner.example.net'], ['video', 'https://vimeo.com/123456']
]

const PATHS_IN_TEXT = [
  '/home/john/docs/report.pdf', 'C:\\Users\\Bob\\Documents\\resume.docx', 'src/components/Button.tsx', 'photos/2024/summer/beach.jpg', '~/Downloads/invoice_2024.pdf',
  'D:\\Backup\\photos\\img001.png', '/usr/local/bin/node is my node path', 'assets/css/main.css', 'docs/README.md', 'uploads/avatar.png'
]

const UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'curl/8.5.0', 'python-requests/2.31.0', 'PostmanRuntime/7.37.3', 'okhttp/4.12.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51', 'axios/1.6.8'
]

const COOKIES = [
  '_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000', 'session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc; theme=dark',
  'prefs=%7B%22lang%22%3A%22en%22%2C%22currency%22%3A%22EUR%22%7D; consent=yes', 'cart=%5B%7B%22id%22%3A1%2C%22q%22%3A2%7D%5D; sid=8f14e45fceea167a',
  "last_search=o'brien; tz=Europe%2FBerlin", ''
]

const API_GETS = [
  '/api/v1/products?page=2&sort=-price&filter[brand]=acme', '/api/v1/users/123/orders?status=shipped&limit=20', '/search?q=union+station&page=3',
  '/blog/2024/05/how-we-select-databases', '/docs/sql/select-statement', '/products/drop-leaf-table-oak', '/category/scripts-and-fonts?sort=popular',
  '/api/search?q=%27select%27+keyword+meaning', '/wiki/Union_(set_theory)', '/static/js/app.3f9a1c.js', '/static/css/main.css?v=12', '/favicon.ico',
  '/images/products/exec-chair-1.jpg', '/api/v2/items?ids=1,2,3&fields=id,name,price', '/calendar?date=2024-05-01&view=week', '/maps?ll=52.52,13.40&z=12',
  '/api/v1/reports?from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:00Z', '/track?event=click&label=Buy%20now%20%E2%80%93%20save%2020%25',
  '/download?file=report-2024.pdf', '/view?page=about', '/index.php?page=contact&lang=en', '/api/v1/files?path=%2Fprojects%2Fdemo%2Fsrc',
  '/search?q=C%2B%2B+templates', '/search?q=%22exact+phrase%22', '/api/v1/users?email=o%27brien%40example.com', '/api/geo?bbox=-0.5,51.2,0.3,51.7'
]

export function benignCorpus (): CorpusRequest[] {
  const rng = new Rng(0xb3e1)
  const out: CorpusRequest[] = []
  const dress = (r: CorpusRequest): CorpusRequest => {
    const cookie = rng.pick(COOKIES)
    const headers: Record<string, string> = { ...r.headers, 'user-agent': rng.pick(UAS), accept: 'text/html,application/json;q=0.9,*/*;q=0.8' }
    if (cookie !== '') headers.cookie = cookie
    if (rng.next() < 0.3) headers.referer = `https://www.example.com/search?q=${encodeURIComponent(rng.pick(SEARCH))}`
    out.push({ ...r, headers })
    return r
  }
  for (const term of SEARCH) {
    dress(queryRequest('benign', rng.pick(['/search', '/products', '/api/search']), rng.pick(['q', 'query', 'term', 's']), term, false))
  }
  for (const name of NAMES) {
    dress(formRequest('benign', '/signup', 'full_name', name, { email: 'user@example.com', plan: 'pro' }))
    dress(jsonRequest('benign', '/api/v1/profile', { name, company: rng.pick(NAMES), bio: rng.pick(COMMENTS).slice(0, 60) }))
  }
  for (const comment of COMMENTS) {
    dress(formRequest('benign', '/comment', 'comment', comment, { author: rng.pick(NAMES), post_id: '42' }))
    dress(jsonRequest('benign', '/api/v1/comments', { post: 42, text: comment, tags: ['help', 'sql'] }))
  }
  for (const query of GRAPHQL) {
    dress(jsonRequest('benign', '/graphql', { query, variables: { id: '123', u: "o'brien", p: 'S3cr3t!&;' }, operationName: null }))
  }
  for (const [name, value] of URL_PARAMS) dress(queryRequest('benign', rng.pick(['/login', '/share', '/go', '/settings']), name, value, false))
  for (const text of PATHS_IN_TEXT) {
    dress(formRequest('benign', '/support/ticket', 'description', `Cannot open ${text}, please help`, { subject: 'file problem' }))
    dress(queryRequest('benign', '/files/search', 'name', text, false))
  }
  for (const path of API_GETS) { dress({ method: 'GET', path, headers: {}, class: 'benign' }); dress({ method: 'GET', path, headers: {}, class: 'benign' }) }
  const orders = ['sku-1', 'sku-22', 'sku-303']
  for (let i = 0; i < 30; i++) {
    dress(jsonRequest('benign', '/api/v1/orders', {
      customer: { name: rng.pick(NAMES), email: `c${i}@example.com`, address: `${i + 1} ${rng.pick(["O'Connell St", 'Union Sq', 'Main St; Apt 4', 'Select Rd'])}` },
      items: orders.slice(0, (i % 3) + 1).map(sku => ({ sku, qty: (i % 4) + 1, note: rng.pick(SEARCH) })),
      coupon: i % 5 === 0 ? 'SAVE-20%' : null, gift: i % 2 === 0
    }))
  }
  return out
}
