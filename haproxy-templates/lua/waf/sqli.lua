-- Lumos Gate WAF, SQL injection: a small SQL lexer in the spirit of libinjection.
-- A value is lexed three ways — as pasted raw (numeric context), as if it followed an
-- opening ' and as if it followed an opening " — and each token stream is checked for the
-- shapes an injection needs: breaking out of the literal and continuing with logic or a
-- comment (' OR 1=1, admin'--), UNION SELECT, stacked queries, time / error based
-- functions, server variables. Words like "select" or "union" in prose never fire on their
-- own: they need the surrounding SQL structure. Comments are tokens, so /**/ evasion and
-- MySQL /*!50000 … */ versioned comments collapse to the same stream.
local find, sub = string.find, string.sub

local function set (list) local s = {} for _, w in ipairs(list) do s[w] = true end return s end

local LOGIC = set { 'and', 'or', 'xor', 'div' }
local OPWORDS = set { 'like', 'rlike', 'regexp', 'is', 'in', 'between', 'sounds', 'mod', 'glob', 'not' }
local KEYWORDS = set { 'select', 'from', 'where', 'insert', 'into', 'values', 'update', 'set', 'delete', 'drop',
  'truncate', 'alter', 'create', 'table', 'database', 'exec', 'execute', 'declare', 'order', 'group', 'by',
  'having', 'limit', 'offset', 'case', 'when', 'then', 'else', 'end', 'null', 'true', 'false', 'waitfor',
  'delay', 'procedure', 'outfile', 'dumpfile', 'shutdown', 'all', 'distinct', 'exists', 'if', 'begin',
  'analyse', 'top', 'information_schema', 'sysobjects', 'syscolumns', 'pg_catalog', 'sqlite_master' }
-- Functions whose presence (called) is an attack on its own.
local DANGER_FUNCS = set { 'sleep', 'benchmark', 'pg_sleep', 'load_file', 'extractvalue', 'updatexml',
  'xp_cmdshell', 'sp_executesql', 'dbms_pipe.receive_message', 'utl_inaddr.get_host_address',
  'utl_http.request', 'randomblob', 'sp_oacreate', 'dbms_lock.sleep', 'sys_eval', 'sys_exec', 'lo_import',
  'exp', 'geometrycollection', 'polygon', 'multipoint', 'name_const', 'gtid_subset', 'json_keys' }
local INFO_FUNCS = set { 'version', 'database', 'user', 'current_user', 'system_user', 'session_user', 'schema',
  'group_concat', 'concat', 'concat_ws', 'char', 'chr', 'ascii', 'substring', 'substr', 'mid', 'hex', 'unhex',
  'count', 'length', 'ord', 'cast', 'convert', 'if', 'iif', 'db_name', 'host_name', 'suser_name', 'md5' }
local STACKABLE = set { 'drop', 'insert', 'update', 'delete', 'select', 'exec', 'execute', 'declare',
  'shutdown', 'waitfor', 'create', 'alter', 'truncate', 'if', 'begin', 'set' }

local function skip_space (s, i)
  local _, e = find(s, '^[%s\v\f\xa0]+', i)
  return e and e + 1 or i
end

-- Index just after the closing quote q starting at i (inside the literal), or nil.
local function string_end (s, i, q)
  local j = i
  while true do
    local p = find(s, q == "'" and "['\\]" or '["\\]', j)
    if not p then return nil end
    if sub(s, p, p) == '\\' then j = p + 2
    elseif sub(s, p + 1, p + 1) == q then j = p + 2
    else return p + 1 end
  end
end

-- Lexes s (lowercase). ctx = nil | "'" | '"': start inside such a literal.
-- Returns parallel arrays of types and values, comments ('c') included.
local function tokenize (s, ctx)
  local ty, va, n = {}, {}, 0
  local len, i = #s, 1
  local function push (t, v) n = n + 1; ty[n] = t; va[n] = v end
  if ctx then
    local e = string_end(s, 1, ctx)
    push('s', sub(s, 1, (e or len + 1) - 1))
    i = e or len + 1
  end
  while i <= len and n < 256 do
    i = skip_space(s, i)
    if i > len then break end
    local c, c2 = sub(s, i, i), sub(s, i, i + 1)
    local a, e
    if c2 == '--' or c == '#' then
      push('c', c)
      e = find(s, '\n', i, true); i = e and e + 1 or len + 1
    elseif c2 == '/*' then
      if sub(s, i + 2, i + 2) == '!' then -- MySQL executable comment: its body is code
        _, e = find(s, '^/%*!%d*', i); i = e + 1
      else
        push('c', '/*')
        e = find(s, '*/', i + 2, true); i = e and e + 2 or len + 1
      end
    elseif c2 == '*/' then i = i + 2
    elseif c == "'" or c == '"' then
      e = string_end(s, i + 1, c)
      push('s', sub(s, i + 1, (e or len + 2) - 2)); i = e or len + 1
    elseif c == '`' then
      e = find(s, '`', i + 1, true); push('b', ''); i = e and e + 1 or len + 1
    elseif find(c, '%d') or (c == '.' and find(s, '^%.%d', i)) then
      a, e = find(s, '^0[xb]%x+', i)
      if not a then a, e = find(s, '^%d*%.?%d*', i) end
      if find(s, '^e[-+]?%d', e + 1) then _, e = find(s, '^e[-+]?%d+', e + 1) end
      push('n', sub(s, a, e)); i = e + 1
    elseif c == '@' then
      a, e = find(s, '^@@?[%w_%.$]*', i); push('v', sub(s, a, e)); i = e + 1
    elseif find(c, '[%a_$\128-\255]') then
      a, e = find(s, '^[%w_$\128-\255]+', i)
      while find(s, '^%.[%a_]', e + 1) do _, e = find(s, '^%.[%w_$]+', e + 1) end
      local w = sub(s, a, e); i = e + 1
      if LOGIC[w] then push('&', w)
      elseif OPWORDS[w] then push('o', w)
      elseif w == 'union' then push('U', w)
      elseif KEYWORDS[w] then push('k', w)
      else
        local j = skip_space(s, i)
        while sub(s, j, j + 1) == '/*' do local ce = find(s, '*/', j + 2, true); j = skip_space(s, ce and ce + 2 or len + 1) end
        push(sub(s, j, j) == '(' and 'f' or 'b', w)
      end
    else
      local three, two = sub(s, i, i + 2), c2
      if three == '<=>' then push('o', three); i = i + 3
      elseif two == '||' or two == '&&' then push('&', two); i = i + 2
      elseif two == '<>' or two == '!=' or two == '<=' or two == '>=' or two == ':=' or two == '==' then push('o', two); i = i + 2
      elseif find(c, '[=<>!+%-*/%%^|&~:]') then push('o', c); i = i + 1
      elseif find(c, '[(),;.]') then push(c, c); i = i + 1
      else push('?', c); i = i + 1 end
    end
  end
  -- Drop comments into a side table: cm[k] = a comment follows token k (cm[0]: leads).
  local T, V, cm, m = {}, {}, {}, 0
  for k = 1, n do
    if ty[k] == 'c' then cm[m] = true else m = m + 1; T[m] = ty[k]; V[m] = va[k] end
  end
  return T, V, cm, m
end

local COMPARE = set { '=', '<', '>', '<=', '>=', '!=', '<>', '<=>', '==', 'like', 'rlike', 'regexp', 'is', 'in', 'between', 'sounds', 'glob' }

-- Does the SELECT at index k (already a 'k' select) carry an actual projection?
local function select_has_projection (T, V, k)
  local j = k + 1
  while T[j] == '(' or (T[j] == 'k' and (V[j] == 'all' or V[j] == 'distinct' or V[j] == 'top')) do j = j + 1 end
  local t, v = T[j], V[j]
  if t == 'n' or t == 's' or t == 'v' or t == 'f' then return true end
  if t == 'o' and v == '*' then return true end
  if t == 'k' and (v == 'null' or v == 'case' or v == 'from' or v == 'true' or v == 'false' or v == 'if') then return true end
  if t == 'b' then local t2, v2 = T[j + 1], V[j + 1]; return t2 == ',' or t2 == '.' or (t2 == 'k' and v2 == 'from') end
  return false
end

-- Tokens after a break-out point (closed literal / leading number) that make it an injection.
local function injection_after (T, V, cm, k, quoted)
  while T[k] == ')' do if cm[k] then return quoted end k = k + 1 end
  local t, v, t2, v2, t3 = T[k], V[k], T[k + 1], V[k + 1], T[k + 2]
  if t == nil then return false end
  if t == '&' then
    if t2 == 'n' or t2 == 'v' then return t3 == nil or t3 == 'o' or t3 == ')' or t3 == ';' or t3 == '&' or cm[k + 1] or false end
    if t2 == 's' then return t3 == nil or t3 == 'o' or t3 == '&' or t3 == ')' or cm[k + 1] or false end
    if t2 == 'f' or t2 == '(' then return true end
    if t2 == 'k' then return v2 == 'true' or v2 == 'false' or v2 == 'null' or v2 == 'exists' or v2 == 'select' or v2 == 'case' or v2 == 'if' end
    if t2 == 'o' and v2 == 'not' then return true end
    if t2 == 'b' then return t3 == 'o' or t3 == '(' end
    return false
  end
  if t == 'o' then
    if COMPARE[v] and quoted then return t2 == 'n' or t2 == 's' or t2 == 'f' or t2 == '(' or t2 == 'v' or t2 == 'o' end
    if t2 == 'f' then return DANGER_FUNCS[v2] or INFO_FUNCS[v2] or false end
    if t2 == '(' then return T[k + 2] == 'k' and V[k + 2] == 'select' end
    if quoted and (v == '+' or v == '|' or v == '-' or v == '^' or v == '*') then return t2 == 'n' or t2 == 's' or t2 == '(' end
    return false
  end
  if t == ';' then return t2 == nil and (quoted or cm[k]) or (t2 == 'k' and STACKABLE[v2]) or false end
  if t == 'U' then
    local j = k + 1
    while T[j] == '(' or (T[j] == 'k' and (V[j] == 'all' or V[j] == 'distinct')) do j = j + 1 end
    return T[j] == 'k' and V[j] == 'select' and (select_has_projection(T, V, j) or T[j + 1] == nil or cm[j] or false)
  end
  if t == 'k' then
    if (v == 'order' or v == 'group') and v2 == 'by' then return t3 == 'n' or t3 == 'b' end
    if v == 'having' or v == 'waitfor' or v == 'procedure' then return true end
    if v == 'into' then return v2 == 'outfile' or v2 == 'dumpfile' end
    if v == 'limit' then return t2 == 'n' end
  end
  return false
end

-- Structure that is an attack wherever it appears in the stream.
local function anywhere (T, V, cm, m, paranoia)
  for k = 1, m do
    local t, v, t2, v2 = T[k], V[k], T[k + 1], V[k + 1]
    if t == 'U' then
      local j = k + 1
      while T[j] == '(' or (T[j] == 'k' and (V[j] == 'all' or V[j] == 'distinct')) do j = j + 1 end
      if T[j] == 'k' and V[j] == 'select' and (select_has_projection(T, V, j) or paranoia >= 2) then return true end
    elseif t == ';' and t2 == 'k' then
      local t3, v3 = T[k + 2], V[k + 2]
      if v2 == 'drop' or v2 == 'truncate' or v2 == 'alter' or v2 == 'create' then
        if v3 == 'table' or v3 == 'database' or (t3 == 'b' and (v3 == 'user' or v3 == 'schema' or v3 == 'index' or v3 == 'procedure')) then return true end
      elseif v2 == 'insert' then if v3 == 'into' then return true end
      elseif v2 == 'delete' then if v3 == 'from' then return true end
      elseif v2 == 'update' then if T[k + 3] == 'k' and V[k + 3] == 'set' then return true end
      elseif v2 == 'select' then if select_has_projection(T, V, k + 1) then return true end
      elseif v2 == 'exec' or v2 == 'execute' or v2 == 'shutdown' or v2 == 'waitfor' then return true
      elseif v2 == 'declare' then if t3 == 'v' then return true end
      elseif v2 == 'set' then if t3 == 'v' then return true end
      end
    elseif t == 'f' then
      if DANGER_FUNCS[v] then
        local prev = T[k - 1]
        if v == 'exp' or v == 'polygon' or v == 'multipoint' or v == 'geometrycollection' then
          if prev == '&' or prev == 'o' or prev == '(' or (prev == 'k' and V[k - 1] == 'select') then return true end
        elseif ((T[k + 2] == 'n' or T[k + 2] == 's') and (T[k + 3] == ')' or T[k + 3] == ',')) or T[k + 2] == '(' or prev == '&' or prev == 'o' or prev == '(' or prev == ',' then
          return true
        end
      end
    elseif t == 'k' then
      if v == 'waitfor' and v2 == 'delay' then return true end
      if v == 'into' and (v2 == 'outfile' or v2 == 'dumpfile') then return true end
      if v == 'select' and (T[k - 1] == '(' or T[k - 1] == '&' or T[k - 1] == 'o') and select_has_projection(T, V, k) then
        local nt = T[k + 1]
        if nt ~= 'b' or paranoia >= 2 then return true end
        for j = k + 1, math.min(m, k + 12) do if T[j] == 'k' and V[j] == 'from' then return true end end
      end
      if v == 'from' and (v2 == 'information_schema' or v2 == 'sysobjects' or v2 == 'pg_catalog' or v2 == 'sqlite_master' or v2 == 'mysql.user') then return true end
      if (v == 'information_schema' or v == 'sysobjects' or v == 'syscolumns') and t2 == '.' then return true end
      if paranoia >= 2 and v == 'select' then
        for j = k + 1, math.min(m, k + 16) do if T[j] == 'k' and V[j] == 'from' then return true end end
      end
    elseif t == 'b' and (find(v, '^information_schema%.') or find(v, '^mysql%.user') or find(v, '^sys%.objects')) then
      return true
    elseif t == 'v' and sub(v, 1, 2) == '@@' and #v > 2 then
      return true
    elseif t == '&' then
      local t3, t4 = T[k + 2], T[k + 3]
      if (t2 == 'n' or t2 == 's') and t3 == 'o' and COMPARE[V[k + 2]] and (t4 == 'n' or t4 == 's') then return true end
      if paranoia >= 2 and t2 == 'b' and t3 == 'o' and COMPARE[V[k + 2]] and t4 ~= nil then return true end
    end
  end
  return false
end

local function check_stream (s, ctx, paranoia)
  local T, V, cm, m = tokenize(s, ctx)
  if m == 0 then return false end
  if ctx then
    -- T[1] is the literal we broke out of.
    if cm[1] then return true end
    if injection_after(T, V, cm, 2, true) then return true end
    if paranoia >= 3 and (T[2] == '&' or T[2] == ';') then return true end
  else
    local k = 1
    if T[1] == 'o' and V[1] == '-' then k = 2 end
    if T[k] == 'n' then
      if injection_after(T, V, cm, k + 1, false) then return true end
    elseif T[k] == '&' or T[k] == ')' then
      if injection_after(T, V, cm, k, false) then return true end
    end
  end
  return anywhere(T, V, cm, m, paranoia)
end

-- Cheap gate: values without SQL punctuation or an SQL-ish word cannot match.
local GATE_WORDS = { 'union', 'select', 'waitfor', 'order', 'group', 'having', 'or', 'and', 'xor', 'sleep', 'benchmark' }

-- Word gate that lets everything through (for re-checks of a rewritten value).
local ANY_WORD = setmetatable({}, { __index = function () return true end })

-- words: set of the value's identifiers (see waf.lua), or nil to skip the word gate.
local function is_sqli (s, paranoia, words)
  if not (find(s, "['\"#;(=@<>|&]") or find(s, '--', 1, true) or find(s, '/*', 1, true)) then
    if not words then return false end
    local hit = false
    for i = 1, #GATE_WORDS do if words[GATE_WORDS[i]] then hit = true break end end
    if not hit then return false end
  end
  if check_stream(s, nil, paranoia) then return true end
  if find(s, "'", 1, true) and check_stream(s, "'", paranoia) then return true end
  if find(s, '"', 1, true) and check_stream(s, '"', paranoia) then return true end
  -- keyword splitting with inline comments: un/**/ion sel/**/ect
  if find(s, '/*', 1, true) then
    local joined = string.gsub(s, '/%*.-%*/', '')
    if joined ~= s then return is_sqli(joined, paranoia, ANY_WORD) end
  end
  return false
end

return { is_sqli = is_sqli, tokenize = tokenize }
