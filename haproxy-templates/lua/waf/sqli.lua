-- Lumos Gate WAF, SQL injection: a small SQL lexer in the spirit of libinjection.
-- A value is lexed three ways — as pasted raw (numeric context), as if it followed an
-- opening ' and as if it followed an opening " — and each token stream is checked for the
-- shapes an injection needs: breaking out of the literal and continuing with logic or a
-- comment (' OR 1=1, admin'--), UNION SELECT, stacked queries, time / error based
-- functions, server variables. Words like "select" or "union" in prose never fire on their
-- own: they need the surrounding SQL structure. Comments are tokens, so /**/ evasion and
-- MySQL /*!50000 … */ versioned comments collapse to the same stream.
local find, sub, byte, gmatch, gsub = string.find, string.sub, string.byte, string.gmatch, string.gsub

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

-- Byte classes of the lexer (dispatch on string.byte: no one-character strings, no
-- pattern call per character).
local SPACE, DIGIT, WORD_START, NAME_START, OP_BYTE, PUNCT_BYTE = {}, {}, {}, {}, {}, {}
for c = 0, 255 do
  local ch = string.char(c)
  SPACE[c] = find(ch, '[%s\v\f\xa0]') ~= nil
  DIGIT[c] = find(ch, '%d') ~= nil
  WORD_START[c] = find(ch, '[%a_$\128-\255]') ~= nil
  NAME_START[c] = find(ch, '[%a_]') ~= nil
  OP_BYTE[c] = find(ch, '[=<>!+%-*/%%^|&~:]') ~= nil
  PUNCT_BYTE[c] = find(ch, '[(),;.]') ~= nil
end
local TWO_CHAR_OPS = set { '<>', '!=', '<=', '>=', ':=', '==' }

-- Lexes s (lowercase). ctx = nil | "'" | '"': start inside such a literal.
-- Returns parallel arrays of types and values without comments, the side table
-- cm[k] = a comment follows token k (cm[0]: leads), and the token count.
local function tokenize (s, ctx)
  local T, V, cm, m, n = {}, {}, {}, 0, 0
  local len, i = #s, 1
  if ctx then
    local e = string_end(s, 1, ctx)
    n, m = 1, 1
    T[1], V[1] = 's', sub(s, 1, (e or len + 1) - 1)
    i = e or len + 1
  end
  while i <= len and n < 256 do
    local c = byte(s, i)
    if SPACE[c] then
      i = skip_space(s, i)
      if i > len then break end
      c = byte(s, i)
    end
    local c2 = byte(s, i + 1)
    local a, e
    if c == 35 or c == 45 and c2 == 45 then -- # or --
      n = n + 1; cm[m] = true
      e = find(s, '\n', i, true); i = e and e + 1 or len + 1
    elseif c == 47 and c2 == 42 then -- /*
      if byte(s, i + 2) == 33 then -- MySQL executable comment /*!: its body is code
        _, e = find(s, '^/%*!%d*', i); i = e + 1
      else
        n = n + 1; cm[m] = true
        e = find(s, '*/', i + 2, true); i = e and e + 2 or len + 1
      end
    elseif c == 42 and c2 == 47 then i = i + 2
    elseif c == 39 or c == 34 then
      e = string_end(s, i + 1, c == 39 and "'" or '"')
      n = n + 1; m = m + 1; T[m] = 's'; V[m] = sub(s, i + 1, (e or len + 2) - 2); i = e or len + 1
    elseif c == 96 then
      e = find(s, '`', i + 1, true); n = n + 1; m = m + 1; T[m] = 'b'; V[m] = ''; i = e and e + 1 or len + 1
    elseif DIGIT[c] or c == 46 and DIGIT[c2] then
      a, e = find(s, '^0[xb]%x+', i)
      if not a then a, e = find(s, '^%d*%.?%d*', i) end
      if byte(s, e + 1) == 101 and find(s, '^e[-+]?%d', e + 1) then _, e = find(s, '^e[-+]?%d+', e + 1) end
      n = n + 1; m = m + 1; T[m] = 'n'; V[m] = sub(s, a, e); i = e + 1
    elseif c == 64 then
      a, e = find(s, '^@@?[%w_%.$]*', i); n = n + 1; m = m + 1; T[m] = 'v'; V[m] = sub(s, a, e); i = e + 1
    elseif WORD_START[c] then
      a, e = find(s, '^[%w_$\128-\255]+', i)
      while byte(s, e + 1) == 46 and NAME_START[byte(s, e + 2)] do _, e = find(s, '^%.[%w_$]+', e + 1) end
      local w = sub(s, a, e); i = e + 1
      local t
      if LOGIC[w] then t = '&'
      elseif OPWORDS[w] then t = 'o'
      elseif w == 'union' then t = 'U'
      elseif KEYWORDS[w] then t = 'k'
      else
        local j = i
        if SPACE[byte(s, j)] then j = skip_space(s, j) end
        while byte(s, j) == 47 and byte(s, j + 1) == 42 do
          local ce = find(s, '*/', j + 2, true)
          j = ce and ce + 2 or len + 1
          if SPACE[byte(s, j)] then j = skip_space(s, j) end
        end
        t = byte(s, j) == 40 and 'f' or 'b'
      end
      n = n + 1; m = m + 1; T[m] = t; V[m] = w
    else
      local t, v, step = 'o', nil, 1
      if c == 60 and c2 == 61 and byte(s, i + 2) == 62 then v, step = '<=>', 3
      elseif c == 124 and c2 == 124 or c == 38 and c2 == 38 then t, v, step = '&', sub(s, i, i + 1), 2
      elseif c2 and TWO_CHAR_OPS[sub(s, i, i + 1)] then v, step = sub(s, i, i + 1), 2
      else
        v = sub(s, i, i)
        if not OP_BYTE[c] then t = PUNCT_BYTE[c] and v or '?' end
      end
      n = n + 1; m = m + 1; T[m] = t; V[m] = v; i = i + step
    end
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

-- Cheap gate, exact for the checks above: no stream can fire without one of these.
-- Anywhere: ; # ( -- /* @@ || && or one of WORDS as a token. After a closed literal
-- (only when a quote is present): a comparison or arithmetic operator, or one of QWORDS.
-- Everything else ('o'brien', {"id":1}, a date, an e-mail) is answered without lexing.
-- Substrings every word of WORDS / QWORDS / GATE_WORDS holds one of (a cheap first look).
local WORD_LIST = { 'or', 'and', 'in', 'from', 'union', 'select', 'group', 'div', 'procedure', 'limit', 'mysql', 'sys' }
local QWORD_LIST = { 'is', 'in', 'like', 'regexp', 'between', 'sounds', 'glob' }
local WORDS = set { 'and', 'or', 'xor', 'div', 'union', 'select', 'from', 'order', 'group', 'having', 'waitfor',
  'procedure', 'into', 'limit', 'information_schema', 'sysobjects', 'syscolumns', 'mysql', 'sys' }
local QWORDS = set { 'like', 'rlike', 'regexp', 'is', 'in', 'between', 'sounds', 'glob' }

-- Words that make a value without SQL punctuation worth lexing (1 or 1, union select …).
local GATE_WORD_LIST = { 'or', 'and', 'union', 'select', 'group', 'having', 'sleep', 'benchmark' }
local GATE_WORDS = set { 'union', 'select', 'waitfor', 'order', 'group', 'having', 'or', 'and', 'xor', 'sleep', 'benchmark' }

-- A run of word bytes holds a word token w only as its suffix: the whole run, or after a
-- number the lexer split off (1e1or, 0xfor, 1.e5or, /*!50000union). Runs that can start
-- with a number (a digit, or e<digit> after "1.") are checked suffix by suffix.
local function run_has_word (run, quoted)
  if WORDS[run] or quoted and QWORDS[run] then return true end
  local c = byte(run, 1)
  if not (c and (c >= 48 and c <= 57 or c == 101 and find(run, '^e%d'))) then return false end
  if not find(run, '[g-z]') then return false end -- every word has a letter beyond hex
  for i = 2, #run do
    local w = sub(run, i)
    if WORDS[w] or quoted and QWORDS[w] then return true end
  end
  return false
end

-- marks: the value without letters, digits and spaces (waf/decode.lua marks).
local function run_has_gate_word (run)
  local c = byte(run, 1)
  if not (c and (c >= 48 and c <= 57 or c == 101 and find(run, '^e%d'))) or not find(run, '[g-z]') then return false end
  for i = 2, #run do if GATE_WORDS[sub(run, i)] then return true end end
  return false
end

-- Does s contain one of the words at all (plain search: a token needs the substring)?
local function has_substring (s, list)
  for i = 1, #list do if find(s, list[i], 1, true) then return true end end
  return false
end

local function may_be_sqli (s, marks)
  if find(marks, '[;#(]') then return true end
  if find(marks, '[-/@|&]') and (find(s, '--', 1, true) or find(s, '/*', 1, true) or find(s, '@@', 1, true)
    or find(s, '||', 1, true) or find(s, '&&', 1, true)) then return true end
  local quoted = find(marks, '[\'"]') ~= nil
  if quoted and find(marks, '[=<>+|^*%-]') then return true end
  if not (has_substring(s, WORD_LIST) or quoted and has_substring(s, QWORD_LIST)) then return false end
  for run in gmatch(s, '[%w_$\128-\255]+') do
    if run_has_word(run, quoted) then return true end
  end
  return false
end

-- s: lowercase value; marks: optional, see may_be_sqli; punct_only: only values with SQL
-- punctuation are candidates (path segments, where words alone are slugs).
local function is_sqli (s, paranoia, marks, punct_only)
  marks = marks or gsub(s, '[%w ]+', '')
  if not (find(marks, "['\"#;(=@<>|&]") or find(s, '--', 1, true) or find(s, '/*', 1, true)) then
    -- no SQL punctuation: prose unless one of GATE_WORDS is a token
    if punct_only then return false end
    if not has_substring(s, GATE_WORD_LIST) then return false end
    local hit = false
    for run in gmatch(s, '[%w_$\128-\255]+') do
      if GATE_WORDS[run] or run_has_gate_word(run) then hit = true break end
    end
    if not hit then return false end
  end
  if not may_be_sqli(s, marks) then return false end
  if check_stream(s, nil, paranoia) then return true end
  if find(marks, "'", 1, true) and check_stream(s, "'", paranoia) then return true end
  if find(marks, '"', 1, true) and check_stream(s, '"', paranoia) then return true end
  -- keyword splitting with inline comments: un/**/ion sel/**/ect
  if find(s, '/*', 1, true) then
    local joined = gsub(s, '/%*.-%*/', '')
    if joined ~= s then return is_sqli(joined, paranoia) end
  end
  return false
end

return { is_sqli = is_sqli, may_be_sqli = may_be_sqli, tokenize = tokenize, word_lists = { WORDS, WORD_LIST, QWORDS, QWORD_LIST, GATE_WORDS, GATE_WORD_LIST } }
