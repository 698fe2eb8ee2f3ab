-- floodgate: GCRA for one or more keys, decided and written at once.
-- Every number is an integer below 2^53, so Lua's doubles are exact; see
-- src/store/units.rs for the units and src/store/script.rs for the calling
-- convention. Numbers are written with '%.0f': Lua's tostring would round
-- them to 14 digits.
local now
local server_time = ARGV[1] == ''
if server_time then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local refund = ARGV[2] == 'r'
local amount = tonumber(ARGV[3])
-- Debt read behind a clock that went backwards is capped here: such a
-- bucket denies whatever the exact figure.
local most = 4503599627370496
local function debt_of(key, drain)
  local stored = redis.call('GET', key)
  if not stored then return 0 end
  local sep = string.find(stored, ':', 1, true)
  local owed = tonumber(string.sub(stored, 1, sep - 1))
  local elapsed = now - tonumber(string.sub(stored, sep + 1))
  -- A product past 2^53 is inexact but then past any debt too.
  return math.min(math.max(owed - elapsed * drain, 0), most)
end
-- A lease ('l') asks for up to `amount` requests, at least `least` (the
-- argument after the keys' quotas; 1 when absent), and is decided as a
-- check of the most that every layer fits now when that is at least
-- `least`. When fewer fit, it reserves `least` if every layer fits them
-- within `within` microseconds (the next argument; 0 when absent): they
-- are charged now, as debt past the burst, and each layer's wait is when
-- they fit, before which the caller must not spend them. Otherwise it is
-- decided as a check of `least`, and denied.
local lease = ARGV[2] == 'l'
local reserve = false
if lease then
  local tail = 4 + #KEYS * 4
  local least = math.max(math.min(tonumber(ARGV[tail] or '1'), amount), 1)
  local within = tonumber(ARGV[tail + 1] or '0')
  local fit, late = amount, 0
  for i = 1, #KEYS do
    local at = 3 + (i - 1) * 4
    local token = tonumber(ARGV[at + 1])
    local capacity = tonumber(ARGV[at + 2])
    local drain = tonumber(ARGV[at + 4])
    local debt = debt_of(KEYS[i], drain)
    fit = math.min(fit, math.floor((capacity - debt) / token))
    if least * token > capacity then
      late = math.huge -- never fits: nothing to reserve
    else
      late = math.max(late, (debt + least * token - capacity) / drain)
    end
  end
  if fit >= least then
    amount = fit
  else
    amount = least
    reserve = late <= within
  end
end
local layers = {}
local refused = nil
for i = 1, #KEYS do
  local at = 3 + (i - 1) * 4
  local token = tonumber(ARGV[at + 1])
  local capacity = tonumber(ARGV[at + 2])
  local lockout = tonumber(ARGV[at + 3])
  local drain = tonumber(ARGV[at + 4])
  local debt = debt_of(KEYS[i], drain)
  local layer = { outcome = 0, debt = debt, wait = 0, write = false, drain = drain }
  if refund then
    layer.debt = math.max(debt - amount, 0)
    if amount > 0 and debt > 0 then layer.write = true end
    -- Reported as a peek would: a lockout's debt may still exceed the burst.
    if layer.debt > capacity then
      layer.outcome = 1
      layer.wait = layer.debt - capacity
    end
  elseif amount * token > capacity then
    layer.outcome = 2
  else
    local need = amount * token
    if debt <= capacity - need then
      layer.debt = debt + need
      if amount > 0 then layer.write = true end
    elseif reserve then
      layer.outcome = 1
      layer.debt = debt + need
      layer.wait = debt + need - capacity
      layer.write = true
    else
      -- With a lockout, a denial is charged up to its ceiling.
      local after = debt
      if lockout > 0 then
        after = math.max(debt, math.min(debt + need, capacity + lockout))
      end
      layer.outcome = 1
      layer.debt = after
      layer.wait = after + need - capacity
      if after > debt then layer.write = true end
    end
  end
  -- A reservation is a charge on every layer, not a refusal.
  if layer.outcome ~= 0 and not refused and not reserve then refused = i end
  layers[i] = layer
end
local function put(key, layer)
  if layer.debt == 0 then
    redis.call('DEL', key)
  elseif not server_time then
    -- A caller's time (tests, replays) is not the clock expiry runs on.
    redis.call('SET', key, string.format('%.0f:%.0f', layer.debt, now))
  else
    -- Expire once the debt has drained (rounded up, plus a spare
    -- millisecond for the division's rounding): a key read after that
    -- would read as a full bucket anyway.
    local ms = math.floor(layer.debt / layer.drain / 1000) + 2
    redis.call('SET', key, string.format('%.0f:%.0f', layer.debt, now),
      'PX', string.format('%.0f', ms))
  end
end
-- All admit: every layer is charged. One refuses: only its own lockout
-- charge (if any) is written, as a local layered check does.
for i = 1, #KEYS do
  if layers[i].write and (not refused or refused == i) then
    put(KEYS[i], layers[i])
  end
end
local reply = {}
for i = 1, #KEYS do
  reply[#reply + 1] = layers[i].outcome
  reply[#reply + 1] = layers[i].debt
  reply[#reply + 1] = layers[i].wait
end
-- A lease's count charged: granted or reserved, 0 when denied.
if lease then reply[#reply + 1] = refused and 0 or amount end
return reply
