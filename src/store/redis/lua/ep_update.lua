-- ARGV: prefix, id, json. Replaces an endpoint that still exists.
if not redis.call('SET', P .. 'ep:' .. ARGV[2], ARGV[3], 'XX') then
  return fail('NOTFOUND', 'endpoint', ARGV[2])
end
return 1
