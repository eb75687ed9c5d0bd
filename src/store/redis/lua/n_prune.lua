-- ARGV: prefix, older than, batch. Finished notifications last changed before the cutoff.
local ids = redis.call('ZRANGEBYSCORE', P .. 'nfin', '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
for _, id in ipairs(ids) do
  local key = P .. 'n:' .. id
  local app, client = unpack(redis.call('HMGET', key, 'app', 'client'))
  if app then
    if client and redis.call('HGET', P .. 'nidem:' .. app, client) == id then
      redis.call('HDEL', P .. 'nidem:' .. app, client)
    end
    redis.call('ZREM', P .. 'napp:' .. app, id)
  end
  redis.call('DEL', key)
  redis.call('ZREM', P .. 'nfin', id)
end
return #ids
