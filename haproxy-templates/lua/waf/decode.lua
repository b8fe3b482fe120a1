-- Lumos Gate WAF, decoding: turns an attacker-controlled value into the canonical form the
-- detectors match on. URL decoding (incl. %uXXXX, overlong UTF-8 and fullwidth forms) and
-- HTML entity / JS escape decoding repeat until the value is stable (bounded), so double
-- and mixed encodings surface; NUL bytes are dropped and the result is lowercased.
local find, lower, gsub, gmatch, byte, char, sub = string.find, string.lower, string.gsub, string.gmatch, string.byte, string.char, string.sub

local function utf8_of (n)
  if n < 128 then return char(n) end
  if n > 0x10FFFF then return '' end
  return utf8.char(n)
end

local OVERLONG = { ['\xc0\xae'] = '.', ['\xc0\xaf'] = '/', ['\xc1\x9c'] = '\\', ['\xc0\xbc'] = '<', ['\xc0\xbe'] = '>',
  ['\xe0\x80\xae'] = '.', ['\xe0\x80\xaf'] = '/' }

-- '2f' / '2F' … → the byte: gsub looks escapes up here instead of calling a function each.
local HEX_BYTE = {}
for n = 0, 255 do
  local lo, up = string.format('%02x', n), string.format('%02X', n)
  for _, h in ipairs({ lo, up, sub(lo, 1, 1) .. sub(up, 2, 2), sub(up, 1, 1) .. sub(lo, 2, 2) }) do HEX_BYTE[h] = char(n) end
end

local function url_decode_once (s)
  if find(s, '%u', 1, true) or find(s, '%U', 1, true) then
    s = gsub(s, '%%[uU](%x%x%x%x)', function (h) return utf8_of(tonumber(h, 16)) end)
  end
  s = gsub(s, '%%(%x%x)', HEX_BYTE)
  if find(s, '[\xc0\xc1\xe0]') then
    s = gsub(s, '\xe0\x80[\xae\xaf]', OVERLONG)
    s = gsub(s, '[\xc0\xc1][\x80-\xbf]', function (c) return OVERLONG[c] end)
  end
  -- fullwidth forms (U+FF01..U+FF5E) fold to ASCII
  if find(s, '\xef[\xbc\xbd]') then
    s = gsub(s, '\xef([\xbc\xbd])([\x80-\xbf])', function (a, b)
      local cp = 0xFF00 + (byte(a) - 0xbc) * 64 + (byte(b) - 0x80)
      if cp >= 0xFF01 and cp <= 0xFF5E then return char(cp - 0xFF01 + 0x21) end
    end)
  end
  return s
end

local ENTITIES = { lt = '<', gt = '>', quot = '"', apos = "'", amp = '&', colon = ':', semi = ';', lpar = '(', rpar = ')',
  sol = '/', bsol = '\\', tab = '\t', newline = '\n', grave = '`', equals = '=', excl = '!', period = '.', comma = ',',
  lsqb = '[', rsqb = ']', lcub = '{', rcub = '}', nbsp = ' ', num = '#', percnt = '%', plus = '+', dollar = '$',
  verbar = '|', ast = '*', quest = '?', commat = '@', hyphen = '-', dash = '-', lowbar = '_' }

local function html_decode (s)
  if not find(s, '&', 1, true) then return s end
  s = gsub(s, '&#[xX]0*(%x+);?', function (h) return #h <= 6 and utf8_of(tonumber(h, 16)) or nil end)
  s = gsub(s, '&#0*(%d+);?', function (d) return #d <= 7 and utf8_of(tonumber(d)) or nil end)
  s = gsub(s, '&(%a+);?', function (name) return ENTITIES[lower(name)] end)
  return s
end

local function js_unescape (s)
  if not find(s, '\\', 1, true) then return s end
  s = gsub(s, '\\[uU]{?(%x%x%x%x)}?', function (h) return utf8_of(tonumber(h, 16)) end)
  s = gsub(s, '\\[xX](%x%x)', function (h) return char(tonumber(h, 16)) end)
  return s
end

-- Decodes until stable (bounded), so double / mixed encodings surface; lowercases.
-- Each step runs only when its trigger byte is present (%, &, backslash, NUL, A-Z): most values
-- need none and come back as they are, without a copy.
local function normalize (s)
  if find(s, '[%%&\\]') then
    for _ = 1, 4 do
      local before = s
      if find(s, '%', 1, true) then s = url_decode_once(s) end
      s = js_unescape(html_decode(s))
      if s == before then break end
    end
  end
  if find(s, '\0', 1, true) then s = gsub(s, '\0', '') end
  if find(s, '%u') then s = lower(s) end
  return s
end

-- Identifiers of a (normalized) value as a set. Several detectors gate on it; the last
-- value's set is kept so they share one computation.
local last_value, last_words
local function words (v)
  if v == last_value then return last_words end
  local set = {}
  for w in gmatch(v, '[%a_][%w_]*') do set[w] = true end
  last_value, last_words = v, set
  return set
end

-- The value without letters, digits and spaces: the few bytes the detectors' gates look
-- at ("o'brien" -> "'"), so each gate scans a handful of bytes instead of the value.
local function marks (v) return (gsub(v, '[%w ]+', '')) end

local function form_decode_plus (s)
  if not find(s, '+', 1, true) then return s end
  return (gsub(s, '+', ' '))
end

return { normalize = normalize, words = words, marks = marks, form_decode_plus = form_decode_plus, url_decode_once = url_decode_once }
