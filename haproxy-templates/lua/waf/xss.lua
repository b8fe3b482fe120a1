-- Lumos Gate WAF, cross-site scripting: looks at the decoded value the way a browser would.
-- It parses tags (<name …>) and fires on script-capable elements, event-handler attributes,
-- javascript:/vbscript:/data:text/html URLs in attributes or as the whole value (control
-- characters inside the scheme are dropped, as browsers do), attribute break-outs
-- (" onmouseover=…), JS string break-outs ('-alert(1)-') and template-injection gadgets.
-- Harmless markup (<b>, <p>, <a href="https://…">) and comparisons (a < b) do not fire.
local find, sub, gsub, match = string.find, string.sub, string.gsub, string.match

local function set (list) local s = {} for _, w in ipairs(list) do s[w] = true end return s end

local SCRIPT_TAGS = set { 'script', 'iframe', 'frame', 'frameset', 'object', 'embed', 'applet', 'base', 'meta',
  'isindex', 'xss', 'vmlframe', 'import', 'xml', 'portal' }
local EVENT_PREFIXES = { 'mouse', 'key', 'pointer', 'touch', 'drag', 'drop', 'animation', 'transition', 'before',
  'after', 'focus', 'load', 'error', 'click', 'dblclick', 'blur', 'change', 'input', 'submit', 'reset', 'select',
  'scroll', 'resize', 'toggle', 'begin', 'end', 'play', 'pause', 'wheel', 'copy', 'cut', 'paste', 'hashchange',
  'popstate', 'message', 'show', 'search', 'start', 'finish', 'bounce', 'contextmenu', 'auxclick', 'canplay',
  'durationchange', 'seek', 'suspend', 'timeupdate', 'volumechange', 'waiting', 'unload', 'invalid', 'abort',
  'storage', 'activate', 'readystatechange', 'propertychange', 'repeat', 'ratechange', 'progress', 'cuechange',
  'page', 'fullscreen', 'gotpointercapture', 'lostpointercapture', 'webkit', 'formdata', 'security', 'content',
  'beforeinput', 'open', 'close', 'loadstart', 'loadend', 'emptied', 'stalled', 'ended', 'offline', 'online' }
-- Calls an injected script makes; the first three also fire as the whole value.
local JS_SINKS = { 'alert', 'prompt', 'confirm', 'eval', 'settimeout', 'setinterval', 'fetch', 'atob',
  'document.write', 'string.fromcharcode', 'window.open', 'location.replace', 'top.location' }
local PROBE_SINKS = set { 'alert', 'prompt', 'confirm' }
local DANGER_URL = { 'javascript:', 'vbscript:', 'livescript:', 'data:text/html', 'data:image/svg+xml',
  'data:application/x', 'data:text/xml', 'jar:', 'mocha:' }

local function is_event (name)
  if #name < 3 then return false end
  for _, p in ipairs(EVENT_PREFIXES) do if sub(name, 1, #p) == p then return true end end
  return false
end

-- Handler attribute (on<event>=) anywhere in s after position i, preceded by a separator.
local function has_handler (s, i)
  local p = i
  while true do
    local a, e, sep, name = find(s, '([%s/"\'`;,%+])on(%a+)%s*=', p)
    if not a then return false end
    if is_event(name) then return true end
    p = e + 1
  end
end

local function has_danger_url (s, strict)
  for _, u in ipairs(DANGER_URL) do
    local p = find(s, u, 1, true)
    while p do
      if strict then return true end
      local before = sub(s, 1, p - 1)
      -- inside an attribute / CSS url() / at the very start of the value
      if find(before, '^[%s"\'`]*$') or find(before, '[=(%s"\'`][%s"\'`]*$') and find(before, '[<=(]') then
        local after = sub(s, p + #u)
        if not find(after, '^%s+%a+%s+%a') or find(after, '[%(`=]') then return true end
      end
      p = find(s, u, p + 1, true)
    end
  end
  return false
end

local function has_tag (s, paranoia)
  local p = 1
  while true do
    local a, e, name = find(s, '<%s*/?%s*([%a][%w:%-]*)', p)
    if not a then return false end
    local spaced = find(sub(s, a, e), '^<%s') ~= nil
    local tail = sub(s, e + 1, e + 400)
    local close = find(tail, '>', 1, true)
    local attrs = close and sub(tail, 1, close - 1) or tail
    if SCRIPT_TAGS[name] and (not spaced or name == 'script' or name == 'iframe') then
      if find(tail, '^[%s/>]') or tail == '' then return true end
    end
    if not spaced then
      if has_handler(' ' .. attrs, 1) then return true end
      local compact = gsub(attrs, '[%c%s]', '')
      if has_danger_url(compact, true) then return true end
      if find(compact, 'expression%(') or find(compact, 'behavior:url') or find(compact, '-moz-binding') then return true end
      if (name == 'svg' or name == 'math') and find(tail, '<%s*/?%s*[%a]') then
        -- nested svg/math payloads are judged on their inner tags
      elseif paranoia >= 3 and not find(name, '^[bipuh][r%d]?$') then
        return true
      end
      if name == 'style' and find(tail, '@import') then return true end
      if name == 'link' and find(compact, 'rel=[\'"]?import') then return true end
    end
    p = e + 1
  end
end

-- ';alert(1)//, "-prompt`1`-", </textarea> style break-outs.
local function has_js_breakout (s)
  for _, f in ipairs(JS_SINKS) do
    local p = find(s, f, 1, true)
    while p do
      local after = sub(s, p + #f, p + #f + 2)
      if find(after, '^%s*[%(`]') then
        local before = sub(s, 1, p - 1)
        if find(before, '^%s*$') then
          if PROBE_SINKS[f] then return true end
        elseif find(before, '[\'"`;%)%-%+%*/|&,{}=!%[~^:]%s*$') and find(before, '[\'"`<;]') then
          return true
        end
      end
      p = find(s, f, p + 1, true)
    end
  end
  return false
end

-- Every check needs one of its trigger bytes: < (tags), : (dangerous URLs), = (handlers),
-- ( or ` (calls), {{ (template gadgets), . (constructor.constructor, document.cookie).
-- marks: optional, the value without letters, digits and spaces (waf/decode.lua marks).
local function is_xss (s, paranoia, marks)
  if not find(marks or s, '[<:=(`{.]') then return false end
  if find(s, '<', 1, true) and has_tag(s, paranoia) then return true end
  if find(s, ':', 1, true) then
    local compact = find(s, '%c') and gsub(s, '%c', '') or s
    if (find(compact, 'script:', 1, true) or find(compact, 'data:', 1, true) or find(compact, 'jar:', 1, true) or find(compact, 'mocha:', 1, true)) and has_danger_url(compact, paranoia >= 3) then return true end
  end
  if find(s, 'on', 1, true) and find(s, '=', 1, true) then
    -- attribute break-out: " onmouseover=…, or a bare handler as the whole value
    if (find(s, '["\'`]') or find(s, '^%s*on%a+%s*=')) and has_handler(' ' .. s, 1) then
      if find(s, '^%s*on%a+%s*=') or find(s, '["\'`][^=]-on%a+%s*=') then return true end
    end
    if paranoia >= 2 and has_handler(' ' .. s, 1) then return true end
  end
  if (find(s, '(', 1, true) or find(s, '`', 1, true)) and has_js_breakout(s) then return true end
  if find(s, '{{', 1, true) and find(s, '$eval', 1, true) then return true end
  if find(s, '.', 1, true) then
    if find(s, 'constructor.constructor', 1, true) then return true end
    if find(s, 'document.cookie', 1, true) or find(s, 'document.domain', 1, true) then
      if find(s, '[%(=+][%s]*document%.[cd]o') then return true end
    end
  end
  return false
end

return { is_xss = is_xss }
