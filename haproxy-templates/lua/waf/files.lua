-- Lumos Gate WAF, local / remote file inclusion.
-- LFI: ../ traversal after decoding (backslashes folded, `....//` and `..;/` collapsed),
-- stream wrappers (php://, file://, phar:// …) and well-known sensitive files. Strong
-- targets (/etc/passwd, win.ini …) fire anywhere; weaker ones (/etc/hosts, /var/log/ …)
-- only when the value is a path or follows traversal, so prose mentioning a path passes.
-- RFI: a remote URL used as an include target — trailing ? / # / NUL, include-like
-- parameter names (file, page, include, template …), IP hosts and non-HTTP schemes.
local find, sub, gsub, match = string.find, string.sub, string.gsub, string.match

local function set (list) local s = {} for _, w in ipairs(list) do s[w] = true end return s end

local WRAPPERS = { 'php://', 'phar://', 'zip://', 'expect://', 'glob://', 'compress.zlib://', 'compress.bzip2://',
  'data://', 'file://', 'file:/', 'jar:file:', 'ogg://', 'rar://', 'ssh2.', 'netdoc:' }
local STRONG_FILES = { 'etc/passwd', 'etc/shadow', 'etc/master.passwd', 'proc/self/', 'proc/1/', 'boot.ini',
  'win.ini', 'system.ini', 'windows/system32/', 'winnt/system32', '.ssh/id_rsa', '.ssh/authorized_keys',
  '.htpasswd', 'etc/sudoers', 'system32/config/sam', 'etc/gshadow', '.aws/credentials', 'web-inf/web.xml',
  'etc/security/passwd', 'inetpub/wwwroot' }
local WEAK_FILES = { 'etc/', 'var/', 'proc/', 'usr/', 'root/', 'home/', 'windows/', 'winnt/', '.htaccess',
  'wp-config', 'web.config', '.env', '.git/', 'web-inf', 'config.php', 'tmp/', 'dev/', 'opt/', 'boot/', 'sys/',
  'c:/', 'd:/', 'localsettings.php', 'configuration.php', 'settings.php', '.bash_history', 'php.ini', 'httpd.conf',
  'nginx.conf', 'my.cnf', 'id_rsa', 'shadow', 'passwd' }
local PROBE_PATHS = { '/.git/', '/.env', '/.htpasswd', '/.htaccess', '/.ssh/', '/.aws/', '/web-inf/', '/meta-inf/',
  '/etc/passwd', '/proc/self/', '/.svn/', '/.hg/', '/.ds_store', '/wp-config.php.' }
local INCLUDE_PARAMS = set { 'file', 'filename', 'page', 'include', 'inc', 'path', 'template', 'tpl', 'doc',
  'document', 'folder', 'root', 'pg', 'pdf', 'lang', 'language', 'module', 'mod', 'dir', 'conf', 'config',
  'load', 'read', 'cat', 'layout', 'theme', 'nav', 'require', 'req', 'inc_file', 'include_file', 'pagename',
  'skin', 'plugin', 'locale', 'filepath', 'tmpl', 'basepath', 'prefix', 'incl', 'show', 'view' }
local REMOTE_SCHEMES = set { 'http', 'https', 'ftp', 'ftps', 'sftp', 'smb', 'gopher', 'dict', 'ldap', 'tftp', 'ssh2', 'expect' }

-- Identifiers one of STRONG_FILES / PROBE_PATHS contains; a value without any skips those lists.
local FILE_WORDS = set { 'passwd', 'shadow', 'proc', 'ini', 'system32', 'winnt', 'id_rsa', 'authorized_keys',
  'htpasswd', 'sudoers', 'sam', 'gshadow', 'credentials', 'inf', 'inetpub', 'git', 'env', 'htaccess', 'ssh',
  'aws', 'svn', 'hg', 'ds_store', 'wp' }

local function any (list, s)
  for _, w in ipairs(list) do if find(s, w, 1, true) then return w end end
  return nil
end

-- words_of(s): the identifiers of s as a set (waf/decode.lua words).
-- marks: optional, the value without letters, digits and spaces (waf/decode.lua marks).
local function is_lfi (s, paranoia, is_path, words_of, marks)
  -- traversal, wrappers and every listed file need one of these bytes
  if not find(marks or s, '[/\\.:]') then return false end
  local value = s
  if find(s, '\\', 1, true) then s = gsub(s, '\\', '/') end
  if find(s, '..', 1, true) then
    local t = gsub(s, '%.%.;/', '../'); t = gsub(t, '%.%.%.+/+', '../'); t = gsub(t, '%.%./+', '../')
    local _, count = gsub(t, '%.%./', '')
    if find(t, '/%.%.$') then count = count + 1 end
    if is_path and (find(t, '/%.%./') or find(t, '/%.%.$')) then return true end
    if count >= 2 or (count >= 1 and paranoia >= 2) then return true end
    if count == 1 then
      local after = match(t, '%.%./(.*)$') or ''
      if find(t, '^[%s"\']*%.%./') then return true end
      for _, f in ipairs(WEAK_FILES) do if sub(after, 1, #f) == f then return true end end
    end
  end
  if find(s, ':/', 1, true) or find(s, 'jar:', 1, true) or find(s, 'netdoc:', 1, true) or find(s, 'ssh2.', 1, true) then
    for _, w in ipairs(WRAPPERS) do
      local p = find(s, w, 1, true)
      if p and (w ~= 'file:/' or not find(sub(s, p - 1, p - 1), '%w')) then return true end
    end
  end
  local sensitive = false
  for w in pairs(words_of(value)) do if FILE_WORDS[w] then sensitive = true break end end
  if sensitive and any(STRONG_FILES, s) then
    -- prose may mention /etc/passwd; a value that is a path, or shell around it, is an attack
    local v = gsub(s, '^[%s"\']+', '')
    if paranoia >= 2 or find(v, '^[%w:]*/') or find(v, '^[%w_%-]+%.ini') or find(s, '[;|&`<>]') then return true end
  end
  if is_path and sensitive then
    for _, w in ipairs(PROBE_PATHS) do
      local p = find(s, w, 1, true)
      if p then
        local nxt = sub(s, p + #w, p + #w)
        if sub(w, -1) == '/' or nxt == '' or nxt == '/' or nxt == '.' or w == '/wp-config.php.' then return true end
      end
    end
  end
  return false
end

local function is_rfi (s, name, paranoia)
  local v = gsub(s, '^[%s"\']+', '')
  if find(v, '^\\\\[%w%.%-]+\\') or find(v, '^//[%d%.]+/') then return INCLUDE_PARAMS[name] or false end
  local scheme = match(v, '^(%a[%w]*)://')
  if not scheme or not REMOTE_SCHEMES[scheme] then
    -- URL nested in a path-like value (…/index.php?page=http://…)
    if paranoia >= 2 and find(v, '=https?://') then return true end
    return false
  end
  if scheme ~= 'http' and scheme ~= 'https' then return true end
  local host = match(v, '^%a+://([^/?#:]*)') or ''
  if find(v, '[%?#]+%s*$') or find(v, '%?%?') then return true end
  if INCLUDE_PARAMS[name] then return true end
  if find(host, '^%d+%.%d+%.%d+%.%d+$') and find(v, '^%a+://[^/]+/.+%.%a+') then return true end
  local path = match(v, '^%a+://[^/]*(/[^?#]*)') or ''
  if find(path, '%.txt$') or find(path, '%.inc$') or find(path, '%.sh$') or find(path, 'shell') or find(path, 'c99') or find(path, 'r57') then
    return true
  end
  return paranoia >= 3
end

return { is_lfi = is_lfi, is_rfi = is_rfi }
