-- ARGV: prefix, now, count, then per outcome: id, lease token of its claim, status, next due
-- ('' = keep), attempt number ('' = none made), status code, latency, error, at.
-- Every id is checked before anything is written. An outcome whose token is no longer the
-- row's (its lease ran out and another claim took over, or it was replayed) is skipped; their
-- ids come back. The token stays on the row until the next claim or replay.
local now, n = ARGV[2], tonumber(ARGV[3])
for i = 0, n - 1 do
  local id = ARGV[4 + i * 9]
  if redis.call('EXISTS', P .. 'd:' .. id) == 0 then return fail('NOTFOUND', 'delivery', id) end
end
local stale = {}
for i = 0, n - 1 do
  local b = 4 + i * 9
  local id, token, status, due, att = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local key = P .. 'd:' .. id
  if redis.call('HGET', key, 'token') ~= token then
    stale[#stale + 1] = id
  else
    local m = redis.call('HGET', key, 'm')
    redis.call('ZREM', P .. 'dl', m)
    redis.call('ZREM', P .. 'dq', m)
    redis.call('ZREM', P .. 'dfin', id)
    redis.call('HSET', key, 'status', status, 'updated', now, 'lease', 0)
    if due ~= '' then redis.call('HSET', key, 'next', due) end
    if status == 'pending' or status == 'waiting' then
      redis.call('ZADD', P .. 'dq', redis.call('HGET', key, 'next'), m)
    else
      redis.call('ZADD', P .. 'dfin', now, id)
    end
    if att ~= '' then
      redis.call('HSET', key, 'attempt', att)
      local ep = redis.call('HGET', key, 'ep')
      local s = redis.call('INCR', P .. 'seq')
      local rec = cjson.encode({d = id, e = ep, a = att, c = ARGV[b + 5], l = ARGV[b + 6],
        x = ARGV[b + 7], t = ARGV[b + 8]})
      redis.call('HSET', P .. 'att', s, rec)
      redis.call('ZADD', P .. 'log:' .. ep, s, s)
      redis.call('ZADD', P .. 'att_at', ARGV[b + 8], s)
      redis.call('SADD', P .. 'datt:' .. id, s)
    end
  end
end
return stale
