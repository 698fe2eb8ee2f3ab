-- floodgate: an in-flight cap for one key, its permits leases in a sorted
-- set (member: the permit's id, score: the server microsecond its lease
-- ends). Calling convention: src/store/inflight.rs. Scores are integers
-- below 2^53, exact in Lua's doubles and Redis's, written with '%.0f'.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local key = KEYS[1]
local op = ARGV[1]
local id = ARGV[2]
local limit = tonumber(ARGV[3])
local lease = tonumber(ARGV[4])

-- A lease that has ended is a permit back: its holder died or forgot it.
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now))
local held = redis.call('ZCARD', key)
local done, ends = 0, 0
if op == 'a' then
  if held < limit then
    ends = now + lease
    redis.call('ZADD', key, string.format('%.0f', ends), id)
    held = held + 1
    done = 1
  end
elseif op == 'n' then
  if redis.call('ZSCORE', key, id) then
    ends = now + lease
    redis.call('ZADD', key, 'XX', string.format('%.0f', ends), id)
    done = 1
  end
else
  done = redis.call('ZREM', key, id)
  held = held - done
end
-- The key lives as long as its longest lease (rounded up, plus a spare
-- millisecond); an empty set is no key at all.
if held > 0 then
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  local ms = math.floor((tonumber(last[2]) - now) / 1000) + 2
  redis.call('PEXPIRE', key, string.format('%.0f', ms))
end
return { done, held, ends }
