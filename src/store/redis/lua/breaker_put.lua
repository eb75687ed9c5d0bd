-- ARGV: prefix, endpoint id, encoded breaker
if redis.call('EXISTS', P .. 'ep:' .. ARGV[2]) == 0 then return fail('NOTFOUND', 'endpoint', ARGV[2]) end
redis.call('SET', P .. 'br:' .. ARGV[2], ARGV[3])
return 1
