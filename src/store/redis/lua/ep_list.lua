-- ARGV: prefix, index key (after the prefix). Endpoints by creation time, then id.
local ids = redis.call('ZRANGE', P .. ARGV[2], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('GET', P .. 'ep:' .. id)
  if json then out[#out + 1] = json end
end
return out
