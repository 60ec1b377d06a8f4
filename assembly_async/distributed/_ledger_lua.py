"""The run ledger's Lua scripts: every change of a job's state is one script,
so it is atomic, and timed by Redis's clock (``TIME``), never a worker's.

Every script gets the run's keys in :data:`KINDS` order (one hash slot: the
``{run:<id>}`` tag). A job is ``"<school_id>/<resource>"``. States: ``queued``
(in the ``queue`` sorted set, scored by the position of its newest message),
``running`` (in ``leases``, scored by the lease's expiry in ms; ``owner``
holds the lease token) and the final ones (``done``, ``not_modified``,
``failed``, ``skipped``, ``cancelled``; ``result`` holds the outcome's JSON).
``counts`` counts jobs per state, ``left`` the jobs of each school not final.
"""

from __future__ import annotations

__all__ = ["CANCEL", "CLAIM", "DECLINE", "FINISH", "KINDS", "RELEASE", "RENEW", "SWEEP"]

#: The run's keys, in the order every script receives them.
KINDS = ("meta", "state", "queue", "leases", "owner", "worker", "attempts", "result",
         "progress", "behind", "revoked", "counts", "left", "declined")

_HEAD = """
local meta, state, queue, leases, owner, worker, attempts, result, progress, behind,
      revoked, counts, left, declined =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9],
  KEYS[10], KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local FINAL = {done=true, not_modified=true, failed=true, skipped=true, cancelled=true}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(key, field)
  return tonumber(redis.call('HGET', key, field) or '0') or 0
end

local function move(job, from, to)
  redis.call('HSET', state, job, to)
  redis.call('HINCRBY', counts, from, -1)
  redis.call('HINCRBY', counts, to, 1)
end

-- Back to the queue under a new message position (the caller sends the message).
local function requeue(job, from)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  redis.call('ZADD', queue, seq, job)
  redis.call('ZREM', leases, job)
  redis.call('HDEL', owner, job)
  redis.call('HDEL', worker, job)
  redis.call('HDEL', behind, job)
  redis.call('HDEL', progress, job)  -- what a lost attempt wrote was rolled back
  if from ~= 'queued' then move(job, from, 'queued') end
  redis.call('HINCRBY', meta, 'requeued', 1)
  return seq
end

local function finalize(job, sid, from, to, outcome)
  move(job, from, to)
  redis.call('ZREM', queue, job)
  redis.call('ZREM', leases, job)
  redis.call('HDEL', owner, job)
  redis.call('HDEL', behind, job)
  redis.call('HDEL', progress, job)  -- the outcome holds what was committed
  redis.call('HSET', result, job, outcome)
  redis.call('HINCRBY', left, sid, -1)
end

local function expire_all()
  local keep = num(meta, 'keep')
  for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], keep) end
end

-- The run is done once no job is queued or running; its keys then expire.
local function settle(t)
  local status = redis.call('HGET', meta, 'status')
  if status == 'running' and num(counts, 'queued') + num(counts, 'running') == 0 then
    redis.call('HSET', meta, 'status', 'done', 'finished', t)
    status = 'done'
  end
  if status and status ~= 'running' then expire_all() end
  return status
end

local function skipped(desc)
  return '{"state":"skipped","error":' .. desc .. '}'
end
"""

# ARGV: job, school id, message position, lease token, worker label.
CLAIM = _HEAD + """
local job, sid = ARGV[1], ARGV[2]
local status = redis.call('HGET', meta, 'status')
local st = redis.call('HGET', state, job)
if (not status) or (not st) then return {'gone'} end
if FINAL[st] then return {'finished', st} end
if status ~= 'running' then return {'stopped', status} end
local t = now_ms()
if st == 'running' then
  local exp = tonumber(redis.call('ZSCORE', leases, job) or '0')
  if exp > t then return {'busy', redis.call('HGET', worker, job) or ''} end
end
local desc = redis.call('HGET', revoked, sid)
if desc then
  finalize(job, sid, st, 'skipped', skipped(desc))
  local school_done = num(left, sid) == 0 and 1 or 0
  settle(t)
  return {'skipped', desc, school_done}
end
local tries = num(attempts, job)
local max_attempts = num(meta, 'max_attempts')
if max_attempts > 0 and tries >= max_attempts then
  local desc2 = cjson.encode({type='JobAbandoned', message='the job was started ' .. tries ..
    ' times and its worker stopped each time (killed, or its lease lost): it is not started again'})
  finalize(job, sid, st, 'failed',
           '{"state":"failed","attempts":' .. tries .. ',"error":' .. desc2 .. '}')
  local school_done = num(left, sid) == 0 and 1 or 0
  settle(t)
  return {'abandoned', desc2, school_done}
end
local pos = tonumber(ARGV[3]) or 0
if pos > num(meta, 'maxleased') then redis.call('HSET', meta, 'maxleased', pos) end
redis.call('ZREM', queue, job)
redis.call('HDEL', behind, job)
if st ~= 'running' then move(job, st, 'running') end
local lease = num(meta, 'lease_ms')
redis.call('ZADD', leases, t + lease, job)
redis.call('HSET', owner, job, ARGV[4])
redis.call('HSET', worker, job, ARGV[5])
local n = redis.call('HINCRBY', attempts, job, 1)
redis.call('HSET', meta, 'last_event', t, 'stall_cur', num(meta, 'stall_ms'))
return {'ok', tostring(n), tostring(lease)}
"""

# ARGV: job, lease token, records so far.
RENEW = _HEAD + """
local job = ARGV[1]
if redis.call('HGET', owner, job) ~= ARGV[2] then return {'lost'} end
local status = redis.call('HGET', meta, 'status')
if status ~= 'running' then return {'stopped', status or 'gone'} end
local lease = num(meta, 'lease_ms')
redis.call('ZADD', leases, now_ms() + lease, job)
redis.call('HSET', progress, job, ARGV[3])
return {'ok', tostring(lease)}
"""

# ARGV: job, school id, lease token, final state, outcome JSON, the school's
# error JSON when its authorisation is gone ('' otherwise), records written,
# then every resource of the run (the school's other jobs).
FINISH = _HEAD + """
local job, sid = ARGV[1], ARGV[2]
if redis.call('HGET', owner, job) ~= ARGV[3] or redis.call('HGET', state, job) ~= 'running' then
  return {'stale'}
end
local t = now_ms()
finalize(job, sid, 'running', ARGV[4], ARGV[5])
redis.call('HINCRBY', meta, 'records', tonumber(ARGV[7]) or 0)
local desc = ARGV[6]
if desc ~= '' then
  if redis.call('HSETNX', revoked, sid, desc) == 0 then desc = redis.call('HGET', revoked, sid) end
  for i = 8, #ARGV do
    local other = sid .. '/' .. ARGV[i]
    if redis.call('HGET', state, other) == 'queued' then
      finalize(other, sid, 'queued', 'skipped', skipped(desc))
    end
  end
end
redis.call('HSET', meta, 'last_event', t)
local school_done = num(left, sid) == 0 and 1 or 0
local status = settle(t)
return {'ok', tostring(school_done), status or 'gone'}
"""

# ARGV: job, lease token, '1' to count the attempt. A worker hands a job back
# unfinished: queued again at once; the attempt is not counted when the worker
# is stopping, it is when the job failed on shared storage (Redis, the
# database) and is to be tried again. A job of a cancelled run becomes cancelled.
RELEASE = _HEAD + """
local job = ARGV[1]
if redis.call('HGET', owner, job) ~= ARGV[2] or redis.call('HGET', state, job) ~= 'running' then
  return {'stale'}
end
local t = now_ms()
if redis.call('HGET', meta, 'status') ~= 'running' then
  local sid = string.match(job, '^([^/]+)/')
  finalize(job, sid, 'running', 'cancelled', '{"state":"cancelled"}')
  settle(t)
  return {'cancelled'}
end
if ARGV[3] ~= '1' then redis.call('HINCRBY', attempts, job, -1) end
return {'ok', tostring(requeue(job, 'running'))}
"""

# ARGV: job, worker label, reason. A worker that must not run the run's jobs
# (its sink is another database) records why and queues the job again.
DECLINE = _HEAD + """
local job = ARGV[1]
if redis.call('HGET', meta, 'status') ~= 'running'
   or redis.call('HGET', state, job) ~= 'queued' then
  return {'no'}
end
redis.call('HSET', declined, ARGV[2], ARGV[3])
return {'ok', tostring(requeue(job, 'queued'))}
"""

# ARGV: grace ms, how many queued jobs a stalled run sends again.
# Returns {job, position, ...}: the jobs queued again, whose messages the
# caller sends.
#  * a lease that expired: its worker stopped renewing it (killed, cut off);
#  * a queued job behind a delivered message for longer than the grace:
#    messages are delivered in stream order, so its own was delivered too and
#    lost (a worker killed between delivery and claim, a trimmed stream, and
#    taskiq-redis not reclaiming while no new message arrives);
#  * nothing claimed for the stall period while jobs wait: the first few are
#    sent again (the period doubles each time, until a claim resets it).
SWEEP = _HEAD + """
if redis.call('HGET', meta, 'status') ~= 'running' then return {} end
local t = now_ms()
local out = {}
for _, job in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', t, 'LIMIT', 0, 1000)) do
  out[#out + 1] = job
  out[#out + 1] = tostring(requeue(job, 'running'))
end
local maxl = num(meta, 'maxleased')
if maxl > 1 then
  local grace = tonumber(ARGV[1])
  for _, job in ipairs(redis.call('ZRANGEBYSCORE', queue, '-inf', '(' .. maxl, 'LIMIT', 0, 1000)) do
    local since = redis.call('HGET', behind, job)
    if not since then
      redis.call('HSET', behind, job, t)
    elseif t - tonumber(since) >= grace then
      out[#out + 1] = job
      out[#out + 1] = tostring(requeue(job, 'queued'))
    end
  end
end
local stall = num(meta, 'stall_cur')
if stall > 0 and t - num(meta, 'last_event') >= stall and redis.call('ZCARD', queue) > 0 then
  for _, job in ipairs(redis.call('ZRANGE', queue, 0, tonumber(ARGV[2]) - 1)) do
    out[#out + 1] = job
    out[#out + 1] = tostring(requeue(job, 'queued'))
  end
  redis.call('HSET', meta, 'last_event', t, 'stall_cur', stall * 2)
end
return out
"""

# No ARGV. Queued jobs become cancelled; running ones learn it when they renew.
# Returns the run's status before ('running' when this call cancelled it).
CANCEL = _HEAD + """
local status = redis.call('HGET', meta, 'status')
if status ~= 'running' then return status or 'gone' end
redis.call('HSET', meta, 'status', 'cancelled', 'finished', now_ms())
for _, job in ipairs(redis.call('ZRANGE', queue, 0, -1)) do
  local sid = string.match(job, '^([^/]+)/')
  finalize(job, sid, 'queued', 'cancelled', '{"state":"cancelled"}')
end
expire_all()
return 'running'
"""
