-- ARGV: prefix, endpoint, id, now. Pending again, due now, attempts from zero, lease dropped
-- and its token moved on, so an attempt still in flight is not recorded.
local key = P .. 'd:' .. ARGV[3]
if redis.call('HGET', key, 'ep') ~= ARGV[2] then return fail('NOTFOUND', 'delivery', ARGV[3]) end
local m = redis.call('HGET', key, 'm')
redis.call('ZREM', P .. 'dl', m)
redis.call('ZREM', P .. 'dfin', ARGV[3])
redis.call('HSET', key, 'status', 'pending', 'next', ARGV[4], 'attempt', 0, 'lease', 0,
  'token', redis.call('INCR', P .. 'fence'), 'updated', ARGV[4])
redis.call('ZADD', P .. 'dq', ARGV[4], m)
return redis.call('HGETALL', key)
