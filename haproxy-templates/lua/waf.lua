-- Lumos Gate WAF: OWASP-style attack detection that runs inside HAProxy (no round trip).
--
-- Loaded once per thread from the global section (`lua-load-per-thread …/lua/waf.lua`);
-- node/render/waf.ts emits, once in the shared frontend of a node with any WAF domain:
--   http-request set-var(txn.waf) <Host>,map(maps/waf.map)   (paranoia 1..4 of the domain)
--   http-request wait-for-body … if { var(txn.waf) -m found } … (so bodies are inspected)
--   http-request lua.lumos_waf if { var(txn.waf) -m found } <pre-filter matched>
-- and in each backend:
--   http-request deny deny_status 403 if { var(txn.waf_class) -m found }
-- The action takes no argument: it reads the paranoia from txn.waf (1 when unset or odd).
-- The action gathers every value an attacker controls — path, query args, form / JSON /
-- multipart / raw body, cookies, User-Agent, Referer (its query) and X-Forwarded-For —
-- normalizes each (waf/decode.lua) and runs the detectors below on it; the first that fires
-- names the class in txn.waf_class (sqli, xss, cmdi, code, lfi, rfi, scanner).
-- Without `core` (plain lua5.3) the file returns `inspect` for offline experiments.

local find, sub, lower, gsub, gmatch = string.find, string.sub, string.lower, string.gsub, string.gmatch

local here = (debug.getinfo(1, 'S').source:match('^@(.*/)') or './')
local decode = dofile(here .. 'waf/decode.lua')
local sqli = dofile(here .. 'waf/sqli.lua')
local xss = dofile(here .. 'waf/xss.lua')
local shell = dofile(here .. 'waf/shell.lua')
local files = dofile(here .. 'waf/files.lua')

local MAX_VALUES, MAX_VALUE_LEN, MAX_BODY = 512, 16384, 131072

-- Scanner user agents (waf/scanners.txt, one lowercase word per line; the HAProxy
-- pre-filter reads the same file), matched as whole words of the lowercased User-Agent.
local SCANNER_WORDS = {}
for line in io.lines(here .. 'waf/scanners.txt') do
  local w = line:match('^%s*([^#%s]+)')
  if w then SCANNER_WORDS[w] = true end
end

local function word_set (v)
  local words = {}
  for w in gmatch(v, '[%a_][%w_]*') do words[w] = true end
  return words
end

-- One value: which class (if any) it belongs to. name is the lowercase parameter name.
local function classify (raw, name, paranoia, source)
  if raw == '' then return nil end
  if #raw > MAX_VALUE_LEN then raw = sub(raw, 1, MAX_VALUE_LEN) end
  local v = decode.normalize(raw)
  local words = word_set(v)
  if not find(v, '[^%w%s%.,%-_@]') then
    -- plain text: only SQL logic words, a bare recon command or a .ini name can matter
    if sqli.is_sqli(v, paranoia, words) then return 'sqli' end
    if source ~= 'ua' and shell.is_cmdi(v, paranoia) then return 'cmdi' end
    if find(v, '.ini', 1, true) and files.is_lfi(v, paranoia, false, words) then return 'lfi' end
    return nil
  end
  if sqli.is_sqli(v, paranoia, words) then return 'sqli' end
  if xss.is_xss(v, paranoia, words) then return 'xss' end
  if shell.is_code(v, paranoia, words) then return 'code' end
  if source ~= 'ua' and shell.is_cmdi(v, paranoia) then return 'cmdi' end
  if files.is_lfi(v, paranoia, source == 'path', words) then return 'lfi' end
  if source ~= 'path' and source ~= 'ua' and (find(v, '://', 1, true) or find(v, '^%s*[\\/][\\/]')) and files.is_rfi(v, name, paranoia) then return 'rfi' end
  return nil
end

-- Splits a k=v&k=v string into (name, value) pairs, '+' meaning space.
local function add_pairs (out, s, sep)
  for pair in gmatch(s, sep == ';' and '[^;]+' or '[^&]+') do
    if #out >= MAX_VALUES then return end
    local eq = find(pair, '=', 1, true)
    local k, v = pair, ''
    if eq then k, v = sub(pair, 1, eq - 1), sub(pair, eq + 1) end
    if sep ~= ';' then k, v = decode.form_decode_plus(k), decode.form_decode_plus(v) end
    k = gsub(k, '^%s+', '')
    out[#out + 1] = { find(k, '%', 1, true) and decode.normalize(k) or lower(k), v }
    -- the name itself is attacker-controlled too (?<script>=1)
    if find(k, '[<\'"%(;`|]') then out[#out + 1] = { '', k } end
  end
end

-- JSON: every string (keys and values) becomes a value; escapes are decoded here.
local JSON_ESC = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }
local function add_json (out, body)
  local i, key = 1, ''
  while #out < MAX_VALUES do
    local a = find(body, '"', i, true)
    if not a then return end
    local j, parts = a + 1, {}
    while true do
      local q = find(body, '["\\]', j)
      if not q then parts[#parts + 1] = sub(body, j); j = #body + 1 break end
      parts[#parts + 1] = sub(body, j, q - 1)
      if sub(body, q, q) == '"' then j = q + 1 break end
      local e = sub(body, q + 1, q + 1)
      if e == 'u' then parts[#parts + 1] = '\\u' .. sub(body, q + 2, q + 5); j = q + 6
      else parts[#parts + 1] = JSON_ESC[e] or e; j = q + 2 end
    end
    local str = table.concat(parts)
    if find(body, '^%s*:', j) then key = lower(str) else out[#out + 1] = { key, str } end
    if find(str, '[<\'"%(;`|]') and find(body, '^%s*:', j) then out[#out + 1] = { '', str } end
    i = j
  end
end

local function add_multipart (out, body, ctype)
  local boundary = ctype:match('boundary="?([^";]+)')
  if not boundary then out[#out + 1] = { '', body } return end
  local pat = '%-%-' .. gsub(boundary, '%p', '%%%0')
  local _, e = find(body, pat)
  while e and #out < MAX_VALUES do
    local s2, e2 = find(body, pat, e + 1)
    local part = sub(body, e + 1, (s2 or #body + 1) - 1)
    local hdrs, content = part:match('^(.-)\r?\n\r?\n(.*)$')
    if hdrs then
      local name = lower(hdrs:match('name="([^"]*)"') or '')
      local filename = hdrs:match('filename="([^"]*)"')
      if filename then out[#out + 1] = { 'filename', filename } end
      content = gsub(content, '\r?\n$', '')
      if not filename or find(lower(hdrs), 'content%-type:%s*text') then out[#out + 1] = { name, content } end
    end
    e = e2
  end
end

local function add_body (out, body, ctype)
  if body == nil or body == '' then return end
  if #body > MAX_BODY then body = sub(body, 1, MAX_BODY) end
  ctype = lower(ctype or '')
  if find(ctype, 'x-www-form-urlencoded', 1, true) then add_pairs(out, body, '&')
  elseif find(ctype, 'multipart/', 1, true) then add_multipart(out, body, ctype)
  elseif find(ctype, 'json', 1, true) or find(body, '^%s*[{%[]') then add_json(out, body)
  else out[#out + 1] = { '', body } end
end

-- req = { path, query, headers = { lowercase name → value }, body }; returns class or nil.
local function inspect (req, paranoia)
  local headers = req.headers
  local ua = headers['user-agent']
  if ua then
    for w in gmatch(lower(ua), '[%a_][%w_]*') do if SCANNER_WORDS[w] then return 'scanner' end end
  end
  for _, v in pairs(headers) do
    if find(v, '() {', 1, true) or find(v, '${', 1, true) then
      local c = classify(v, '', paranoia, 'header')
      if c then return c end
    end
  end
  local path = req.path or '/'
  local c = classify(path, '', paranoia, 'path')
  if c then return c end
  if find(path, "[%%'\"<;(]") then
    for seg in gmatch(path, '[^/]+') do
      local v = decode.normalize(seg)
      if sqli.is_sqli(v, paranoia) then return 'sqli' end
    end
  end
  local values = {}
  if req.query and req.query ~= '' then add_pairs(values, req.query, '&') end
  add_body(values, req.body, headers['content-type'])
  if headers.cookie then add_pairs(values, headers.cookie, ';') end
  local ref = headers.referer
  if ref and find(ref, '?', 1, true) then add_pairs(values, sub(ref, find(ref, '?', 1, true) + 1), '&') end
  if headers['x-forwarded-for'] then values[#values + 1] = { 'x-forwarded-for', headers['x-forwarded-for'] } end
  for i = 1, #values do
    local kv = values[i]
    c = classify(kv[2], kv[1], paranoia, 'arg')
    if c then return c end
  end
  -- browsers' user agents carry ( ; , but never quotes, < or comments
  if ua and (find(ua, "['\"<`$%%]") or find(ua, '--', 1, true)) then
    c = classify(ua, 'user-agent', paranoia, 'ua')
    if c then return c end
  end
  return nil
end

if core then
  core.register_action('lumos_waf', { 'http-req' }, function (txn)
    local paranoia = tonumber(txn:get_var('txn.waf')) or 1
    if paranoia < 1 or paranoia > 4 then paranoia = 1 end
    local hdrs = {}
    for name, list in pairs(txn.http:req_get_headers()) do hdrs[lower(name)] = list[0] end
    -- one fetch (each txn.f call is costly): origin-form path?query, or absolute-form
    local url = txn.f:url() or '/'
    url = url:gsub('^%a[%w+.-]*://[^/]*', '')
    local q = find(url, '?', 1, true)
    local req = { path = q and sub(url, 1, q - 1) or url, query = q and sub(url, q + 1) or nil, headers = hdrs }
    if hdrs['content-length'] or hdrs['transfer-encoding'] then req.body = txn.f:req_body() end
    local ok, cls = pcall(inspect, req, paranoia)
    if not ok then core.Warning('lumos_waf: ' .. tostring(cls)) return end
    if cls then txn:set_var('txn.waf_class', cls) end
  end, 0)
end

return { inspect = inspect, classify = classify, modules = { decode = decode, sqli = sqli, xss = xss, shell = shell, files = files } }
