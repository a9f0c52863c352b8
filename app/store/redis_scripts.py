"""The Redis store's Lua scripts: each is one atomic step, one round trip.

Scripts read owner and claim keys they are not given as KEYS: a single Redis (or Heroku's) is
assumed, not a cluster.
"""

from .redis_memory import REMEMBER

TURN = """
-- KEYS: waiting (zset ts), expiry (zset expires_at), holder, owners (hash member -> owner)
-- ARGV: member, ts, expires_at, now, lease_ms, owner, key prefix
-- A member (a message's key) whose owner died stays while its claim is unanswered: recovery
-- answers it, and what came after it must not be answered first, without it.
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[6])
local now = tonumber(ARGV[4])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local owner = redis.call('HGET', KEYS[4], member)
  local alive = owner and tonumber(redis.call('GET', ARGV[7] .. 'owner:' .. owner) or '0') or 0
  local expires = tonumber(redis.call('ZSCORE', KEYS[2], member) or '0')
  local gone = expires < now
  if not gone and alive <= now then
    gone = redis.call('EXISTS', ARGV[7] .. 'done:' .. member) == 1
      or redis.call('EXISTS', ARGV[7] .. 'claim:' .. member) == 0
  end
  if gone then
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[4], member)
    if redis.call('GET', KEYS[3]) == member then redis.call('DEL', KEYS[3]) end
  end
end
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[5]) end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if first ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[5]) then return 1 end
if redis.call('GET', KEYS[3]) == ARGV[1] then return 1 end
return 0
"""

CLAIM = """
-- KEYS: done, claim (hash: owner, event, spent), pause, spend counter, unanswered (zset), told,
-- the conversation's claims (set: what erasure must find)
-- ARGV: owner, now, owner key prefix, claim_ms, count (1/0), counter_s, key, event
-- Returns {state, paused (1/0), calls counted in the window (0 when not counted), told (1/0)}.
-- A claim is new once: taking it over (a dead owner, or given back) counts nothing again.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'answered', 0, 0, 0} end
local holder = redis.call('HGET', KEYS[2], 'owner')
if holder and holder ~= '' then
  local alive = tonumber(redis.call('GET', ARGV[3] .. holder) or '0')
  if alive > tonumber(ARGV[2]) then return {'busy', 0, 0, 0} end
end
local told = redis.call('EXISTS', KEYS[6])
if holder then
  redis.call('HSET', KEYS[2], 'owner', ARGV[1])
  if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[2]) then
    return {'taken', 1, 0, told}
  end
  return {'taken', 0, tonumber(redis.call('HGET', KEYS[2], 'spent') or '0'), told}
end
redis.call('HSET', KEYS[2], 'owner', ARGV[1], 'event', ARGV[8], 'at', ARGV[2], 'tries', 0,
  'spent', 0)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[7])
redis.call('SADD', KEYS[7], ARGV[7])
redis.call('PEXPIRE', KEYS[7], ARGV[4])
if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[2]) then
  return {'taken', 1, 0, told}
end
if ARGV[5] ~= '1' then return {'taken', 0, 0, told} end
local spent = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[6])
redis.call('HSET', KEYS[2], 'spent', spent)
return {'taken', 0, spent, told}
"""

# A message's arrival: the transcript's script, the claim's, and when it is ours to answer the
# turn's, as one script — one round trip (a pipeline of them costs another: redis-py asks SCRIPT
# EXISTS before each such pipeline).
ARRIVE = (
    "local function remember(KEYS, ARGV)\n" + REMEMBER + "\nend\n"
    "local function claim(KEYS, ARGV)\n" + CLAIM + "\nend\n"
    "local function turn(KEYS, ARGV)\n" + TURN + "\nend\n"
    """
-- KEYS: the claim's 7, the transcript's 4, the turn's 4
-- ARGV: the claim's 8, the turn's 7, then the transcript's
local ca, ta, ra = {}, {}, {}
for i = 1, #ARGV do
  if i <= 8 then ca[i] = ARGV[i]
  elseif i <= 15 then ta[i - 8] = ARGV[i]
  else ra[i - 15] = ARGV[i] end
end
remember({KEYS[8], KEYS[9], KEYS[10], KEYS[11]}, ra)
local result = claim({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]}, ca)
local held, known, kept = 0, false, {}
if result[1] == 'taken' and result[2] == 0 then
  held = turn({KEYS[12], KEYS[13], KEYS[14], KEYS[15]}, ta)
end
if held == 1 then
  -- Nobody before it: the conversation as it stands is what its reply is made with.
  known = redis.call('GET', KEYS[10])
  local ids = redis.call('ZRANGE', KEYS[9], 0, -1)
  if #ids > 0 then
    local stored = redis.call('HMGET', KEYS[8], unpack(ids))
    for i = 1, #ids do
      if stored[i] then kept[#kept + 1] = ids[i]; kept[#kept + 1] = stored[i] end
    end
  end
end
return {result[1], result[2], result[3], result[4], held, known or '', kept}
"""
)

RELEASE = """
-- KEYS: done, claim; ARGV: owner, tried (1/0). Our unanswered claim is given back, its event
-- kept; a failed attempt counts as a try.
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('HGET', KEYS[2], 'owner') == ARGV[1] then
  redis.call('HSET', KEYS[2], 'owner', '')
  redis.call('HINCRBY', KEYS[2], 'tries', tonumber(ARGV[2]))
end
return 1
"""

ANSWERED = """
-- KEYS: done, claim, unanswered; ARGV: ttl_s, key
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
"""

ORPHANS = """
-- KEYS: unanswered (zset key -> first claimed); ARGV: now, owner key prefix, oldest,
-- max tries, scan, key prefix, ttl_s. Returns {events of claims nobody alive holds,
-- keys given up (too old, tried too often): marked answered}.
-- Under a burst nearly every claim looked at is held by a live process: each owner is looked
-- up once a scan, and an event is read only for a claim to be taken over.
local found, gone, alive = {}, {}, {}
local now = tonumber(ARGV[1])
for _, key in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1)) do
  local claim, done = ARGV[6] .. 'claim:' .. key, ARGV[6] .. 'done:' .. key
  if redis.call('EXISTS', done) == 1 or redis.call('EXISTS', claim) == 0 then
    redis.call('ZREM', KEYS[1], key)
  else
    local c = redis.call('HMGET', claim, 'owner', 'at', 'tries')
    local owner = c[1] or ''
    if alive[owner] == nil then
      alive[owner] = owner ~= '' and tonumber(redis.call('GET', ARGV[2] .. owner) or '0') > now
    end
    if not alive[owner] then
      local event = redis.call('HGET', claim, 'event') or ''
      if tonumber(c[2] or '0') < tonumber(ARGV[3]) or tonumber(c[3] or '0') >= tonumber(ARGV[4])
        or event == '' then
        redis.call('SET', done, '1', 'EX', ARGV[7])
        redis.call('DEL', claim)
        redis.call('ZREM', KEYS[1], key)
        table.insert(gone, key)
      else
        table.insert(found, event)
      end
    end
  end
end
return {found, gone}
"""

PAUSE = """
-- KEYS: pause; ARGV: until, keep_ms. A later end extends the pause, an earlier one does not.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""
PAUSE_KEEP_SECONDS = 60.0

LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""


# A message's last write: the reply parts kept, the turn left, the message marked answered.
SETTLE = (
    "local function remember(KEYS, ARGV)\n" + REMEMBER + "\nend\n"
    "local function leave(KEYS, ARGV)\n" + LEAVE + "\nend\n"
    """
-- KEYS: done, claim, unanswered, told, the turn's 4, then the transcript's 4 (none without
-- entries); ARGV: ttl_s, the turn's member, key, told (1/0), keep_ms, then the transcript's
-- arguments (none without entries)
leave({KEYS[5], KEYS[6], KEYS[7], KEYS[8]}, {ARGV[2]})
if #KEYS > 8 then
  local ra = {}
  for i = 6, #ARGV do ra[i - 5] = ARGV[i] end
  remember({KEYS[9], KEYS[10], KEYS[11], KEYS[12]}, ra)
end
if ARGV[4] == '1' then redis.call('SET', KEYS[4], '1', 'PX', ARGV[5]) end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
return 1
"""
)


SCRIPTS = {
    "turn": TURN,
    "leave": LEAVE,
    "claim": CLAIM,
    "arrive": ARRIVE,
    "settle": SETTLE,
    "release": RELEASE,
    "answered": ANSWERED,
    "orphans": ORPHANS,
    "pause": PAUSE,
}
