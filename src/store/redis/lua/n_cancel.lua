-- ARGV: prefix, app, id, now. Only a pending notification is cancelled.
local app, id, now = ARGV[2], ARGV[3], ARGV[4]
local key = P .. 'n:' .. id
if redis.call('HGET', key, 'app') ~= app then return fail('NOTFOUND', 'notification', id) end
local st = redis.call('HGET', key, 'status')
if st ~= 'pending' then return fail('CONFLICT', 'notification', id, st) end
local m = redis.call('HGET', key, 'm')
redis.call('ZREM', P .. 'nq', m)
redis.call('ZREM', P .. 'nl', m)
redis.call('HSET', key, 'status', 'cancelled', 'updated', now, 'lease', 0, 'token', 0)
redis.call('SREM', P .. 'npend:' .. app, id)
redis.call('ZADD', P .. 'nfin', now, id)
return redis.call('HGETALL', key)
