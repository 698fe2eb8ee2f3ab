-- floodgate: a sliding window for one key, decided and written at once.
-- Calling convention and units: src/store/window.rs. Every number is an
-- integer below 2^53, so Lua's doubles are exact; products that could pass
-- 2^53 are taken apart by muldiv. Numbers are written with '%.0f': Lua's
-- tostring would round them to 14 digits.
local now
local server_time = ARGV[1] == ''
if server_time then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local op = ARGV[2]
local amount = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local per_micro = tonumber(ARGV[5])
local window = tonumber(ARGV[6])

-- floor(a * b / c) and a * b mod c, for integers a, b, c below 2^53 whose
-- quotient is too: long multiplication one bit of a at a time, every
-- remainder kept below c, so no intermediate passes 2^53.
local function muldiv(a, b, c)
  local rest = math.fmod(b, c)
  local whole = a * ((b - rest) / c)
  local bits = {}
  while a > 0 do
    local bit = math.fmod(a, 2)
    bits[#bits + 1] = bit
    a = (a - bit) / 2
  end
  local q, r = 0, 0
  for i = #bits, 1, -1 do
    q = q * 2
    if r >= c - r then
      r = r - (c - r)
      q = q + 1
    else
      r = r + r
    end
    if bits[i] == 1 then
      if r >= c - rest then
        r = r - (c - rest)
        q = q + 1
      else
        r = r + rest
      end
    end
  end
  return whole + q, r
end

-- The window of now and the units elapsed in it.
local now_index, now_elapsed = muldiv(per_micro, now, window)

-- The state: the latest window given, the window of the counts, the counts.
local latest, index, previous, current = 0, 0, 0, 0
local stored = redis.call('GET', KEYS[1])
if stored then
  local fields = {}
  for field in string.gmatch(stored, '%d+') do
    fields[#fields + 1] = tonumber(field)
  end
  latest, index, previous, current = fields[1], fields[2], fields[3], fields[4]
end

-- A check moves the latest window on; so does a refund of a key that has
-- a window. A peek moves nothing.
local moved = false
if (op == 'c' or (op == 'r' and stored)) and now_index > latest then
  latest = now_index
  moved = true
end
-- A time behind the latest window is decided at that window's start.
local at, elapsed = now_index, now_elapsed
if now_index < latest then
  at, elapsed = latest, 0
end
if at == index + 1 then
  previous, current = current, 0
elseif at ~= index then
  previous, current = 0, 0
end

local admitted = 1
local after_previous, after_current = previous, current
if op == 'r' then
  local from_current = math.min(amount, current)
  after_current = current - from_current
  after_previous = previous - math.min(amount - from_current, previous)
elseif amount > limit then
  admitted = 0
else
  -- Fits when previous * (window - elapsed) <= room * window.
  local room = limit - current - amount
  if room < 0 then
    admitted = 0
  elseif previous > room then
    local shrink = muldiv(room, window, previous)
    if window - elapsed > shrink then admitted = 0 end
  end
  if admitted == 1 and op == 'c' then after_current = current + amount end
end

local charged = after_previous ~= previous or after_current ~= current
if charged or moved then
  if not server_time then
    -- A caller's time (tests, replays) is not the clock expiry runs on.
    redis.call('SET', KEYS[1], string.format('%.0f:%.0f:%.0f:%.0f',
      latest, at, after_previous, after_current))
  elseif after_previous == 0 and after_current == 0 then
    redis.call('DEL', KEYS[1])
  else
    -- The counts weigh nothing once the window after theirs has ended
    -- (rounded up, plus a spare millisecond).
    local left = (at - now_index + 2) * window - now_elapsed
    local ms = math.floor(left / per_micro / 1000) + 2
    redis.call('SET', KEYS[1], string.format('%.0f:%.0f:%.0f:%.0f',
      latest, at, after_previous, after_current),
      'PX', string.format('%.0f', ms))
  end
end
return { admitted, now, at, previous, current }
