-- Lumos Gate WAF, command and code injection.
-- Shell: a command word right after a shell metacharacter (; | || & && ` $( newline), after
-- undoing the usual evasions (quotes and backslashes inside words, ${IFS}, $@, brace
-- expansion, /???/??t globs). Commands that are also English words (cat, id, ping, echo …)
-- need shell-looking surroundings: no space before the metacharacter, or arguments that
-- look like flags, paths, numbers or more shell. Also Shellshock.
-- Code: PHP (<?php, system($_GET…)), Java / expression language (${jndi:…}, Runtime.exec,
-- OGNL), server-side template gadgets (__class__, __globals__) and Node child_process.
local find, sub, gsub, match = string.find, string.sub, string.gsub, string.match

local function set (list) local s = {} for _, w in ipairs(list) do s[w] = true end return s end

-- Unmistakable as commands.
local STRONG = set { 'whoami', 'uname', 'wget', 'curl', 'ncat', 'netcat', 'bash', 'zsh', 'ksh', 'csh', 'tcsh',
  'nslookup', 'ifconfig', 'ipconfig', 'netstat', 'chmod', 'chown', 'base64', 'xxd', 'nohup', 'powershell',
  'pwsh', 'certutil', 'bitsadmin', 'wmic', 'cscript', 'wscript', 'mshta', 'rundll32', 'regsvr32', 'systeminfo',
  'tasklist', 'taskkill', 'useradd', 'crontab', 'iptables', 'socat', 'nmap', 'lsof', 'traceroute', 'getent',
  'printenv', 'busybox', 'killall', 'pkill', 'mkfifo', 'mknod', 'passwd', 'gawk', 'cmd.exe', 'net.exe',
  'powershell.exe', 'telnet', 'tftp', 'sh', 'dash', 'shutdown', 'reboot', 'uname', 'hostname', 'phpinfo' }
-- Also ordinary words: need shell-looking context.
local WEAK = set { 'id', 'ls', 'cat', 'dir', 'ping', 'sleep', 'echo', 'set', 'type', 'more', 'less', 'find',
  'head', 'tail', 'kill', 'net', 'env', 'sort', 'who', 'touch', 'host', 'file', 'cp', 'mv', 'rm', 'mkdir', 'cd',
  'pwd', 'ps', 'df', 'du', 'w', 'time', 'date', 'expr', 'which', 'tar', 'zip', 'unzip', 'mail', 'printf', 'exec',
  'eval', 'export', 'source', 'test', 'nc', 'ssh', 'scp', 'ftp', 'dig', 'ver', 'reg', 'sc', 'start', 'copy',
  'del', 'move', 'tree', 'python', 'python2', 'python3', 'perl', 'ruby', 'php', 'lua', 'node', 'java', 'awk', 'sed',
  'grep', 'tee', 'xargs', 'cmd', 'sudo', 'su', 'nl', 'od', 'wc', 'uniq', 'diff', 'whois', 'openssl', 'gcc', 'make',
  'vi', 'nano', 'ln', 'chgrp', 'last', 'top', 'history', 'alias', 'unset', 'timeout', 'telnet' }

-- Recon commands that are an attack even as the whole value (cmd=whoami).
local RECON = set { 'whoami', 'uname', 'ifconfig', 'ipconfig', 'netstat', 'systeminfo', 'tasklist', 'printenv' }

-- Undo quoting / variable / glob evasions inside words.
-- (each rewrite runs only when the byte it needs is there)
local function unevade (s)
  if find(s, '$', 1, true) then
    s = gsub(s, '%${ifs}', ' '); s = gsub(s, '%$ifs%$?%d?', ' ')
    s = gsub(s, '%$[@*]', ''); s = gsub(s, '%${?[%w_]*}?%s*%$', '$')
  end
  if find(s, '{', 1, true) then
    s = gsub(s, '{([%w_%./%-]+),([^}]*)}', function (a, b) return a .. ' ' .. gsub(b, ',', ' ') end)
  end
  if find(s, '["\'\\^]') then
    s = gsub(s, '(%w)["\'\\^]+', '%1'); s = gsub(s, '["\'\\^]+(%w)', '%1')
  end
  return s
end

local function args_look_shell (rest)
  return rest == '' or find(rest, '^%s*$') or find(rest, '^%s+[-/|;&><$`~.%d\'"\\]') or find(rest, '^[|;&><`$]')
    or find(rest, '^%s+[%w_%.]+%s*[|;&><`]') ~= nil
end

-- The command word at position i of s (after a metacharacter); nil when none.
local function command_at (s, i, tight, short, paranoia)
  local _, e = find(s, '^[%s({!]*', i)
  local a, we, word = find(s, '^([%w_%./%-%?%*~]+)', e + 1)
  if not a then return false end
  local rest = sub(s, we + 1, we + 80)
  if find(word, '^/') and find(word, '[%?%*]') then return true end -- /???/??t /???/p??s??
  local base = match(word, '([^/]+)$') or word
  if find(word, '^/') and (WEAK[base] or STRONG[base]) then return true end
  if STRONG[base] then return true end
  if WEAK[base] then return paranoia >= 3 or tight or (short and args_look_shell(rest)) end
  return false
end

-- marks: optional, the value without letters, digits and spaces (waf/decode.lua marks).
local function is_cmdi (raw, paranoia, marks)
  marks = marks or gsub(raw, '[%w ]+', '')
  if marks == '' or not find(marks, '[^%.,_@/:-]') then
    -- no quoting, no metacharacter: only a bare recon command (cmd=whoami, uname -a)
    local _, fe, first = find(raw, '^%s*([%w_%.]+)')
    return first ~= nil and RECON[first] ~= nil and #raw < 48 and args_look_shell(sub(raw, fe + 1)) ~= false
  end
  if find(raw, '^%s*%(%s*%)%s*{') then return true end -- Shellshock
  local s = raw
  if find(marks, '[\'"\\^$]') then s = unevade(s) end
  -- the whole value is a command (cmd=whoami, ping=127.0.0.1;id handled below)
  local _, fe, first = find(s, '^%s*([%w_%.]+)')
  if first and RECON[first] and #s < 48 and args_look_shell(sub(s, fe + 1)) then return true end
  if not find(s, '[;|&`$\n\r]') then return false end
  local p = 1
  while true do
    local a, e = find(s, '[;|&`\n\r]+', p)
    local da, de = find(s, '%$%(', p)
    if da and (not a or da < a) then a, e = da, de end
    if not a then return false end
    local prefix = sub(s, 1, a - 1)
    local tight = find(prefix, '^%s*$') ~= nil or not find(sub(s, a - 1, a - 1), '%s')
    -- prose and code snippets ("use git log | head -5") put several words before the
    -- operator; injections append to one value (127.0.0.1; id) or start with it
    local short = not find(prefix, '%S+%s+%S+%s+%S')
    local meta = sub(s, a, e)
    if meta == '`' and not tight then short = false end -- markdown `code` in prose
    if meta == '&' and find(s, '^%w+;', e + 1) then
      -- an HTML entity left undecoded, not a shell operator
    elseif command_at(s, e + 1, tight, short, paranoia) then
      return true
    end
    p = e + 1
  end
end

local CODE_MARKERS = { '<?php', '<?=', 'phpinfo()', '$_get[', '$_post[', '$_request[', '$_server[', '$_cookie[',
  'java.lang.runtime', 'getruntime()', 'java.lang.processbuilder', 'processbuilder(', '#_memberaccess',
  '@java.lang', 'class.module.classloader', 'classloader.resources', 'javax.script.scriptenginemanager',
  '__class__', '__globals__', '__builtins__', '__import__', '__subclasses__', '__mro__', 'child_process',
  'process.mainmodule', 'require(\'child_process', 'getclass().forname', 'java.io.file', 't(java.lang',
  'new java.', 'o:8:"stdclass"', 'str_rot13(', 'gzinflate(', 'create_function(', 'call_user_func(',
  'assert(base64', 'eval(base64', 'eval(gzinflate', 'system(\'', 'system("', 'system($', 'shell_exec(',
  'passthru(', 'proc_open(', 'popen(\'', 'popen("', 'pcntl_exec(', 'exec(\'', 'exec("', 'exec($',
  'eval($', 'eval(\'', 'eval("', 'assert($', 'file_put_contents(', 'fwrite(fopen', 'include($', 'require($',
  'preg_replace(\'/.*/e', 'runtime.getruntime', '.exec(\'', '.exec("', 'os.popen', 'os.system(',
  'subprocess.', 'freemarker.template', 'velocity', '#set($', 'getenv(', 'response.addheader' }

-- Identifiers one of CODE_MARKERS contains; a value without any skips the list.
local CODE_WORDS = set { 'php', 'phpinfo', '_get', '_post', '_request', '_server', '_cookie', 'java', 'runtime',
  'getruntime', 'processbuilder', '_memberaccess', 'classloader', 'javax', '__class__', '__globals__',
  '__builtins__', '__import__', '__subclasses__', '__mro__', 'child_process', 'mainmodule', 'forname', 'stdclass',
  'str_rot13', 'gzinflate', 'create_function', 'call_user_func', 'base64', 'system', 'shell_exec', 'passthru',
  'proc_open', 'popen', 'pcntl_exec', 'exec', 'eval', 'assert', 'file_put_contents', 'fwrite', 'include',
  'require', 'preg_replace', 'subprocess', 'freemarker', 'velocity', 'getenv', 'addheader', 'module', 'set' }

-- words_of(s): the identifiers of s as a set (waf/decode.lua words).
local function is_code (s, paranoia, words_of, marks)
  marks = marks or gsub(s, '[%w ]+', '')
  -- every check below needs one of these bytes, but the paranoia 2+ marker 'velocity'
  if paranoia < 2 and not find(marks, '[(._#<:${]') then return false end
  if find(s, '${', 1, true) then
    -- ${${lower:j}ndi:…}, ${${::-j}${::-n}di:…}, ${${env:X:-j}ndi:…} collapse to jndi:
    local flat = gsub(s, '%${::%-', ''); flat = gsub(flat, '%${lower:', ''); flat = gsub(flat, '%${upper:', '')
    flat = gsub(flat, '%${[%w_]+:[%w_]*:%-', ''); flat = gsub(flat, "%${date:'(%w)'}", '%1')
    flat = gsub(flat, '[{}$]', '')
    if find(flat, 'jndi:') or find(flat, 'j?ndi:[lrdhic]') then return true end
    if find(s, '%${[^}]*runtime') or find(s, '%${[^}]*%.exec') then return true end
  end
  if find(s, '%{(#', 1, true) or find(s, '%{#', 1, true) then return true end
  -- every marker but 'velocity' (paranoia 2+) holds one of these bytes
  if paranoia < 2 and not find(marks, '[(._#<:]') then return false end
  if not find(s, '<?', 1, true) then
    local hit = false
    for w in pairs(words_of(s)) do if CODE_WORDS[w] then hit = true break end end
    if not hit then return false end
  end
  for _, m in ipairs(CODE_MARKERS) do
    if find(s, m, 1, true) then
      if m ~= 'velocity' and m ~= 'getenv(' and m ~= 'subprocess.' and m ~= 'os.system(' and m ~= 'os.popen' then return true end
      if paranoia >= 2 then return true end
    end
  end
  return false
end

return { is_cmdi = is_cmdi, is_code = is_code }
