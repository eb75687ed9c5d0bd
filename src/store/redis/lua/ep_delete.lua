-- ARGV: prefix, app, id. Removes the endpoint with its deliveries, attempts and breaker.
local app, id = ARGV[2], ARGV[3]
local json = redis.call('GET', P .. 'ep:' .. id)
if not json or cjson.decode(json).app_id ~= app then return fail('NOTFOUND', 'endpoint', id) end
for _, d in ipairs(redis.call('SMEMBERS', P .. 'epd:' .. id)) do drop_delivery(d) end
redis.call('DEL', P .. 'ep:' .. id, P .. 'epd:' .. id, P .. 'br:' .. id, P .. 'log:' .. id)
redis.call('ZREM', P .. 'eps', id)
redis.call('ZREM', P .. 'app_eps:' .. app, id)
return 1
