-- ARGV: prefix, id, app, json, created_at
local id, app = ARGV[2], ARGV[3]
if not redis.call('SET', P .. 'ep:' .. id, ARGV[4], 'NX') then
  return fail('DUPLICATE', 'endpoint', id)
end
redis.call('ZADD', P .. 'eps', ARGV[5], id)
redis.call('ZADD', P .. 'app_eps:' .. app, ARGV[5], id)
return 1
