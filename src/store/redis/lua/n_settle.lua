-- ARGV: prefix, id, fencing token ('' = unfenced), status, reason ('' or '='..text), due
-- ('' = keep), now. Returns 'stale' when the token is no longer the row's: the lease ran out
-- and another claim owns the notification, whose result must not be overwritten.
local id, token, status, reason, due, now = ARGV[2], ARGV[3], ARGV[4], opt(ARGV[5]), ARGV[6], ARGV[7]
local key = P .. 'n:' .. id
local st = redis.call('HGET', key, 'status')
if not st then return fail('NOTFOUND', 'notification', id) end
if st ~= 'pending' then return fail('CONFLICT', 'notification', id, st) end
if token ~= '' and redis.call('HGET', key, 'token') ~= token then return 'stale' end
local m, app = unpack(redis.call('HMGET', key, 'm', 'app'))
redis.call('ZREM', P .. 'nl', m)
redis.call('ZREM', P .. 'nq', m)
redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'status', status, 'updated', now, 'lease', 0, 'token', 0)
if reason then redis.call('HSET', key, 'reason', reason) else redis.call('HDEL', key, 'reason') end
if due ~= '' then redis.call('HSET', key, 'due', due) end
if status == 'pending' then
  redis.call('ZADD', P .. 'nq', redis.call('HGET', key, 'due'), m)
else
  redis.call('SREM', P .. 'npend:' .. app, id)
  redis.call('ZADD', P .. 'nfin', now, id)
end
return 'ok'
