"""The Lua scripts of :class:`~assembly_async.redis.RedisRateLimiter`.

Every time is Redis's own (``TIME``, microseconds), never a worker's. Per
budget key, KEYS are ``done`` (finished slots: id -> finish time), ``run``
(slots in flight: id -> expiry) and ``pause`` (a 429's end), in one hash slot.
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "PAUSE", "RELEASE"]

# KEYS: done, run, pause.
# ARGV: limit, window us, in-flight ttl us, want (n), then n slot ids, then the ids
# of slots this process finished since its last call (released first, finishing now).
# Returns {granted (the first `granted` ids hold slots now), us until a slot may free
# up (when not all were granted), slots still free, paused 0/1}.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local want = tonumber(ARGV[4])
for i = 5 + want, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then redis.call('ZADD', KEYS[1], now, ARGV[i]) end
end
local paused = tonumber(redis.call('GET', KEYS[3]) or '0')
if paused > now then return {0, paused - now, 0, 1} end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES')
for i = 1, #expired, 2 do redis.call('ZADD', KEYS[1], expired[i + 1], expired[i]) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local free = limit - redis.call('ZCARD', KEYS[1]) - redis.call('ZCARD', KEYS[2])
local granted = math.max(0, math.min(want, free))
for i = 1, granted do redis.call('ZADD', KEYS[2], now + ttl, ARGV[4 + i]) end
local keep = math.ceil((window + ttl) / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
if granted == want then return {granted, 0, free - granted, 0} end
local wait = window
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest > 0 then wait = tonumber(oldest[2]) + window - now end
return {granted, math.max(wait, 1), 0, 0}
"""

# KEYS: done, run. ARGV: slot ids. Those slots finish now.
RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then redis.call('ZADD', KEYS[1], now, ARGV[i]) end
end
return #ARGV
"""

# KEYS: pause. ARGV: microseconds. Pauses only ever get longer.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
if untl > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], untl, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1)
end
return 1
"""
