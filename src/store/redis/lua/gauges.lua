-- ARGV: prefix, now. {deliveries pending or waiting (due or leased), breakers open at now}.
local open = 0
for _, id in ipairs(redis.call('ZRANGE', P .. 'eps', 0, -1)) do
  local b = redis.call('GET', P .. 'br:' .. id)
  local until_ms = b and tonumber(string.match(b, '^[^,]*,([^,]*),'))
  if until_ms and until_ms > tonumber(ARGV[2]) then open = open + 1 end
end
return {redis.call('ZCARD', P .. 'dq') + redis.call('ZCARD', P .. 'dl'), open}
