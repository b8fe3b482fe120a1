// The WAF baseline on loopback: nginx + ModSecurity v3 + OWASP CRS 3.3 at paranoia level 1
// (Debian libnginx-mod-http-modsecurity, modsecurity-crs), next to plain nginx, both
// proxying to the same origin. Also a plain nginx origin (return 200) for the throughput
// runs, so the origin is never the bottleneck. Everything lives in a temp dir.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { waitForPort } from './waf-haproxy.ts'

const MODSEC_MODULE = '/usr/lib/nginx/modules/ngx_http_modsecurity_module.so'
const CRS_SETUP = '/etc/modsecurity/crs/crs-setup.conf'
const CRS_RULES = '/usr/share/modsecurity-crs/rules'

export function baselineInstalled (): boolean {
  return existsSync(MODSEC_MODULE) && existsSync(CRS_SETUP) && existsSync(CRS_RULES)
}

function modsecConfig (dir: string): string {
  return `SecRuleEngine On
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\\+|/)|text/)xml" "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyLimit 13107200
SecRequestBodyNoFilesLimit 131072
SecRequestBodyLimitAction Reject
SecRule REQBODY_ERROR "!@eq 0" "id:'200002',phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.'"
SecPcreMatchLimit 1000
SecPcreMatchLimitRecursion 1000
SecResponseBodyAccess Off
SecTmpDir ${dir}/
SecDataDir ${dir}/
SecAuditEngine Off
SecArgumentSeparator &
SecCookieFormat 0
SecUnicodeMapFile /etc/nginx/unicode.mapping 20127
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level=1"
Include ${CRS_SETUP}
Include ${CRS_RULES}/*.conf
`
}

export interface NginxPorts { modsec: number, plain: number, origin: number }

export function nginxConfig (dir: string, ports: NginxPorts, role: 'proxies' | 'origin', workers: number): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(n => `    ${n}_temp_path ${dir}/tmp-${role}-${n};`).join('\n')
  const head = `${role === 'proxies' ? `load_module ${MODSEC_MODULE};\n` : ''}user root;
worker_processes ${workers};
pid ${dir}/nginx-${role}.pid;
error_log ${dir}/nginx-${role}-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
${temp}
    keepalive_requests 100000;
`
  if (role === 'origin') {
    return head + `    server { listen 127.0.0.1:${ports.origin}; location / { return 200 "ok\\n"; } }\n}\n`
  }
  const upstream = `    upstream origin { server 127.0.0.1:${ports.origin}; keepalive 64; }\n`
  const proxy = 'location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }'
  return head + upstream +
    `    server { listen 127.0.0.1:${ports.modsec}; modsecurity on; modsecurity_rules_file ${dir}/modsec.conf; ${proxy} }\n` +
    `    server { listen 127.0.0.1:${ports.plain}; ${proxy} }\n}\n`
}


export interface RunningNginx { stop: () => Promise<void>, child: ChildProcess }

/** Starts one nginx (daemon off) for `role`; CRS loading takes a few seconds. */
export async function startNginx (dir: string, ports: NginxPorts, role: 'proxies' | 'origin', workers: number): Promise<RunningNginx> {
  mkdirSync(dir, { recursive: true })
  if (role === 'proxies') writeFileSync(join(dir, 'modsec.conf'), modsecConfig(dir))
  const conf = join(dir, `nginx-${role}.conf`)
  writeFileSync(conf, nginxConfig(dir, ports, role, workers))
  const child = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-8192) })
  const exited = once(child, 'exit')
  const listening = role === 'origin' ? [ports.origin] : [ports.modsec, ports.plain]
  await Promise.race([
    Promise.all(listening.map(port => waitForPort(port, AbortSignal.timeout(60_000)))),
    exited.then(() => { throw new Error(`nginx (${role}) exited: ${stderr}`) })
  ])
  return {
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGQUIT')
      await exited
    }
  }
}
