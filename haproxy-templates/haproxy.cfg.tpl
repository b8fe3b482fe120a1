# Rendered by lumos-node from the signed config of account {{ACCOUNT}}.
# Do not edit: the next version overwrites this file.
global
    stats socket {{RUN_DIR}}/admin.sock mode 600 level admin expose-fd listeners
    stats timeout 30s
    log stderr format short local0 notice
    lua-load-per-thread {{TEMPLATES_DIR}}/lua/waf.lua
    ssl-default-bind-options ssl-min-ver TLSv1.2
    # HAProxy's internal HTTP client (unused here) would load the system CA bundle at every
    # start and `haproxy -c`: 55 % of checking a 1 000-domain config.
    httpclient.ssl.verify none
    # Old workers drain after a reload (docs/decisions/008-reload-drain.md): they are
    # stopped at the latest after this long, or once they outlived this many reloads.
    hard-stop-after 60s
    mworker-max-reloads 10

defaults
    mode http
    log global
    option httplog
    option forwardfor
    # On reload the old worker keeps idle keep-alive connections and ends each with
    # "Connection: close" on its next response (or at the keep-alive timeout), instead of
    # closing it under a client that may be sending a request on it (2.4+ default).
    option idle-close-on-response
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    default-server init-addr last,libc,none

frontend shield_http
    bind {{HTTP_BIND}}
    # The default certificate answers clients whose SNI matches no domain of this node.
    bind {{HTTPS_BIND}} ssl crt {{DEFAULT_CERT}} crt-list {{CRT_LIST}} alpn h2,http/1.1
    # Client timeout cannot be set per backend: the longest of this node's domains.
    timeout client {{CLIENT_TIMEOUT}}
    # HAProxy itself answers 200 here (before any rule, unlogged): the node's health check
    # (node/liveness/haproxy-health.ts) asks it every second.
    monitor-uri /.lumos/health
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
    http-request set-var(txn.site) req.hdr(host),lower,field(1,:),map({{MAP_FILE}})
    # Checks run once per node (blacklist lookup, WAF inspection, bot checks), driven by maps;
    # the verdicts (403, challenge page) are given in each domain's backend.
{{FRONTEND_RULES}}
    use_backend %[var(txn.site)] if { var(txn.site) -m found }
    default_backend unknown_site

backend unknown_site
    http-request return status 404 content-type text/plain string "lumos: no site for this host on this shield\n"
{{BACKENDS}}
