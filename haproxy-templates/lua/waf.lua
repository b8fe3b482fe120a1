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
-- Cost: most values a legitimate request carries are answered by the detectors' gates —
-- exact necessary conditions looked up in the value's few punctuation bytes (decode.marks)
-- and cheap plain searches, never by running a detector — and recent verdicts are kept
-- per thread (classify_cached below), so a browser's repeated cookies cost one lookup.
-- Without `core` (plain lua5.3) the file returns `inspect` for offline experiments.

local find, sub, lower, gsub, gmatch = string.find, string.sub, string.lower, string.gsub, string.gmatch

local here = (debug.getinfo(1, 'S').source:match('^@(.*/)') or './')
local decode = dofile(here .. 'waf/decode.lua')
local sqli = dofile(here .. 'waf/sqli.lua')
local xss = dofile(here .. 'waf/xss.lua')
local shell = dofile(here .. 'waf/shell.lua')
local files = dofile(here .. 'waf/files.lua')

-- Limits. HAProxy buffers about 15 KB of a request (tune.bufsize 16 KB: larger buffers
-- cost every request ~45 % more HAProxy CPU, bench/waf), so a bigger body is read in part.
-- Padding is a classic way around a WAF (20 KB of junk, then the attack), and a body may be
-- a legitimate 40 KB JSON post: like AWS WAF's oversize handling, the paranoia level
-- decides. From OVERSIZE_PARANOIA on, a body that is not multipart and was not buffered
-- whole is refused as 'oversize' (an upload's files are not inspected anyway, its buffered
-- fields are); below, its buffered part is inspected. At every level a request with
-- MAX_VALUES values or more (PHP reads 1 000 by default) is refused: what follows is unread.
local MAX_VALUES, MAX_VALUE_LEN, MAX_BODY = 1000, 16384, 131072
local OVERSIZE_PARANOIA = 2
-- Without Content-Length a body's size is what arrived: this much means the buffer filled.
local UNSIZED_BODY_FULL = 12288

-- Scanner user agents (waf/scanners.txt, one lowercase word per line; the HAProxy
-- pre-filter reads the same file), matched as whole words of the lowercased User-Agent.
local SCANNER_WORDS = {}
for line in io.lines(here .. 'waf/scanners.txt') do
  local w = line:match('^%s*([^#%s]+)')
  if w then SCANNER_WORDS[w] = true end
end

local words_of, marks_of, normalize = decode.words, decode.marks, decode.normalize
local is_sqli, is_xss, is_code, is_cmdi, is_lfi, is_rfi = sqli.is_sqli, xss.is_xss, shell.is_code, shell.is_cmdi, files.is_lfi, files.is_rfi

local classify_value

-- One value: which class (if any) it belongs to. name is the lowercase parameter name;
-- source is 'path' (the URL path: also each of its segments), 'arg', 'header' or 'ua'.
local function classify (raw, name, paranoia, source)
  local class = classify_value(raw, name, paranoia, source)
  if class or source ~= 'path' or not find(raw, "[%%'\"<;(]") then return class end
  for seg in gmatch(raw, '[^/]+') do
    if is_sqli(normalize(seg), paranoia, nil, true) then return 'sqli' end
  end
  return nil
end

function classify_value (raw, name, paranoia, source)
  if raw == '' then return nil end
  if #raw > MAX_VALUE_LEN then raw = sub(raw, 1, MAX_VALUE_LEN) end
  local v = normalize(raw)
  local marks = marks_of(v)
  if not find(marks, '[^%s%.,%-_@]') then
    -- plain text: only SQL logic words, a bare recon command or a .ini name can matter
    if is_sqli(v, paranoia, marks) then return 'sqli' end
    if source ~= 'ua' and is_cmdi(v, paranoia, marks) then return 'cmdi' end
    if find(v, '.ini', 1, true) and is_lfi(v, paranoia, false, words_of, marks) then return 'lfi' end
    return nil
  end
  if is_sqli(v, paranoia, marks) then return 'sqli' end
  if is_xss(v, paranoia, marks) then return 'xss' end
  if is_code(v, paranoia, words_of, marks) then return 'code' end
  if source ~= 'ua' and is_cmdi(v, paranoia, marks) then return 'cmdi' end
  if is_lfi(v, paranoia, source == 'path', words_of, marks) then return 'lfi' end
  if source ~= 'path' and source ~= 'ua' and (find(v, '://', 1, true) or find(v, '^%s*[\\/][\\/]')) and is_rfi(v, name, paranoia) then return 'rfi' end
  return nil
end

-- Verdicts of recent values, per thread (this file is loaded once per thread, so no
-- locking). classify is a pure function of (raw, name, paranoia, source): a kept verdict
-- is the verdict, attacks included. Browsers send the same cookies, user agent and
-- referer on every request; those cost one lookup after the first time. Bounded: values
-- longer than CACHE_VALUE_MAX are not kept, and the whole cache is dropped once it holds
-- CACHE_MAX verdicts (an attacker cycling values only gets the uncached cost).
-- LUMOS_WAF_CACHE=0 in HAProxy's environment turns it off (bench/waf measures both).
local CACHE_MAX, CACHE_VALUE_MAX = 8192, 512 -- budget units, bytes
local CACHE_ON = not (os and os.getenv and os.getenv('LUMOS_WAF_CACHE') == '0')
local cache, scanner_ua, cached = {}, {}, 0
local parts, part_class, inspect_values, inspect -- request parts, below

-- Room for one more kept answer of `bytes` (drops everything when full). The budget counts
-- one unit per entry and per 512 bytes kept, so a thread keeps at most a few MB.
local function make_room (bytes)
  if cached >= CACHE_MAX then cache, scanner_ua, parts, cached = {}, {}, {}, 0 end
  cached = cached + 1 + bytes // CACHE_VALUE_MAX
end

local function classify_cached (raw, name, paranoia, source)
  if not CACHE_ON or #raw > CACHE_VALUE_MAX then return classify(raw, name, paranoia, source) end
  local by_source = cache[paranoia]
  if not by_source then by_source = {}; cache[paranoia] = by_source end
  local by_name = by_source[source]
  if not by_name then by_name = {}; by_source[source] = by_name end
  local verdicts = by_name[name]
  if not verdicts then verdicts = {}; by_name[name] = verdicts end
  local verdict = verdicts[raw]
  if verdict == nil then
    verdict = classify(raw, name, paranoia, source) or false
    local before = cached
    make_room(#raw)
    if cached <= before then -- the cache was just dropped: start again from its root
      by_source = {}; cache[paranoia] = by_source
      by_name = {}; by_source[source] = by_name
      verdicts = {}; by_name[name] = verdicts
    end
    verdicts[raw] = verdict
  end
  return verdict or nil
end

-- Is the user agent a scanner's (a word of waf/scanners.txt)? Kept like the verdicts.
local function is_scanner_ua (ua)
  local known = scanner_ua[ua]
  if known ~= nil then return known end
  local found = false
  for w in gmatch(lower(ua), '[%a_][%w_]*') do if SCANNER_WORDS[w] then found = true break end end
  if CACHE_ON and #ua <= CACHE_VALUE_MAX then
    make_room(#ua)
    scanner_ua[ua] = found
  end
  return found
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

-- Every value of the query, body, cookies, Referer query and X-Forwarded-For as one list
-- (at most MAX_VALUES), classified in that order: the reference behaviour, used as is when
-- a request carries that many values.
function inspect_values (req, paranoia)
  local headers = req.headers
  local values = {}
  if req.query and req.query ~= '' then add_pairs(values, req.query, '&') end
  add_body(values, req.body, headers['content-type'])
  if headers.cookie then add_pairs(values, headers.cookie, ';') end
  local ref = headers.referer
  if ref and find(ref, '?', 1, true) then add_pairs(values, sub(ref, find(ref, '?', 1, true) + 1), '&') end
  if headers['x-forwarded-for'] then values[#values + 1] = { 'x-forwarded-for', headers['x-forwarded-for'] } end
  for i = 1, #values do
    local kv = values[i]
    local c = classify_cached(kv[2], kv[1], paranoia, 'arg')
    if c then return c end
  end
  -- the lists stop at MAX_VALUES: what may follow was not read
  if #values >= MAX_VALUES then return 'oversize' end
  -- browsers' user agents carry ( ; , but never quotes, < or comments
  local ua = headers['user-agent']
  if ua and (find(ua, "['\"<`$%%]") or find(ua, '--', 1, true)) then
    return classify_cached(ua, 'user-agent', paranoia, 'ua')
  end
  return nil
end

-- One part of a request (kind: 'query', 'cookie', 'referer' or the body's lowercase
-- content type) parsed alone: the class of its first attack value (or nil) and its number
-- of values; nil count when it holds `room` values or more (the caller then falls back to
-- inspect_values). Parts up to PART_MAX bytes are kept like single values: a browser sends
-- the same Cookie header on every request.
local PART_MAX = 4096
parts = {}
function part_class (kind, text, paranoia, room)
  local keep = CACHE_ON and #text <= PART_MAX
  local by_kind = parts[paranoia]
  if keep and by_kind then
    local known = by_kind[kind] and by_kind[kind][text]
    if known then
      if known[2] >= room then return nil, nil end
      return known[1] or nil, known[2]
    end
  end
  local values = {}
  if kind == 'query' or kind == 'referer' then add_pairs(values, text, '&')
  elseif kind == 'cookie' then add_pairs(values, text, ';')
  else add_body(values, text, kind) end
  local count = #values
  if count >= room then return nil, nil end
  local class = false
  for i = 1, count do
    local kv = values[i]
    local c = classify_cached(kv[2], kv[1], paranoia, 'arg')
    if c then class = c break end
  end
  if keep then
    make_room(#text)
    by_kind = parts[paranoia]
    if not by_kind then by_kind = {}; parts[paranoia] = by_kind end
    local texts = by_kind[kind]
    if not texts then texts = {}; by_kind[kind] = texts end
    texts[text] = { class, count }
  end
  return class or nil, count
end

-- req = { path, query, headers = { lowercase name → value }, body }; returns class or nil.
function inspect (req, paranoia)
  local headers = req.headers
  local ua = headers['user-agent']
  if ua and is_scanner_ua(ua) then return 'scanner' end
  for _, v in pairs(headers) do
    if find(v, '() {', 1, true) or find(v, '${', 1, true) then
      local c = classify_cached(v, '', paranoia, 'header')
      if c then return c end
    end
  end
  local c = classify_cached(req.path or '/', '', paranoia, 'path')
  if c then return c end
  local ref = headers.referer
  local ref_query = ref and find(ref, '?', 1, true) and sub(ref, find(ref, '?', 1, true) + 1) or nil
  local ctype = headers['content-type']
  -- The parts in order; each is answered (and kept) as a whole while the values so far stay
  -- under MAX_VALUES, where a part parses the same alone as after the others.
  local used = 0
  for i = 1, 4 do
    local text, kind
    if i == 1 then text, kind = req.query, 'query'
    elseif i == 2 then text, kind = req.body, ctype and lower(ctype) or ''
    elseif i == 3 then text, kind = headers.cookie, 'cookie'
    else text, kind = ref_query, 'referer' end
    if text and text ~= '' then
      local class, count = part_class(kind, text, paranoia, MAX_VALUES - used)
      if count == nil then return inspect_values(req, paranoia) end -- near the limit: as one list
      if class then return class end
      used = used + count
    end
  end
  if headers['x-forwarded-for'] then
    c = classify_cached(headers['x-forwarded-for'], 'x-forwarded-for', paranoia, 'arg')
    if c then return c end
  end
  -- browsers' user agents carry ( ; , but never quotes, < or comments
  if ua and (find(ua, "['\"<`$%%]") or find(ua, '--', 1, true)) then
    c = classify_cached(ua, 'user-agent', paranoia, 'ua')
    if c then return c end
  end
  return nil
end

if core then
  core.register_action('lumos_waf', { 'http-req' }, function (txn)
    local paranoia = tonumber(txn:get_var('txn.waf')) or 1
    if paranoia < 1 or paranoia > 4 then paranoia = 1 end
    local hdrs = {}
    for name, list in pairs(txn.http:req_get_headers()) do
      name = lower(name)
      local value = list[0]
      if list[1] then
        -- a repeated header (two Cookie lines…): every occurrence is inspected, not the first only
        local all = {}
        for i = 0, #list do all[#all + 1] = list[i] end
        value = table.concat(all, name == 'cookie' and '; ' or ', ')
      end
      hdrs[name] = value
    end
    -- one fetch (each txn.f call is costly): origin-form path?query, or absolute-form
    local url = txn.f:url() or '/'
    url = url:gsub('^%a[%w+.-]*://[^/]*', '')
    local q = find(url, '?', 1, true)
    local req = { path = q and sub(url, 1, q - 1) or url, query = q and sub(url, q + 1) or nil, headers = hdrs }
    -- HTTP/2 needs neither header for a body: then ask for its size (wait-for-body ran).
    -- req.body_size is the advertised length (Content-Length) or, without one, what arrived.
    local size = txn.f:req_body_size() or 0
    local truncated = false
    if hdrs['content-length'] or hdrs['transfer-encoding'] or size > 0 then
      req.body = txn.f:req_body() or ''
      truncated = #req.body < size or (not hdrs['content-length'] and #req.body >= UNSIZED_BODY_FULL)
    end
    local ok, cls = pcall(inspect, req, paranoia)
    if not ok then core.Warning('lumos_waf: ' .. tostring(cls)) return end
    if not cls and truncated and paranoia >= OVERSIZE_PARANOIA and not find(lower(hdrs['content-type'] or ''), 'multipart/', 1, true) then cls = 'oversize' end
    if cls then txn:set_var('txn.waf_class', cls) end
  end, 0)
end

return { inspect = inspect, classify = classify, modules = { decode = decode, sqli = sqli, xss = xss, shell = shell, files = files } }
