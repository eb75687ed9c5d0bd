-- ARGV: prefix, older than, batch. Up to `batch` finished deliveries last changed before the
-- cutoff with their attempts, then up to `batch` older attempts of live deliveries.
local cutoff, batch = '(' .. ARGV[2], tonumber(ARGV[3])
local deliveries, attempts = 0, 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'dfin', '-inf', cutoff, 'LIMIT', 0, batch)) do
  attempts = attempts + drop_delivery(id)
  deliveries = deliveries + 1
end
local live, offset = 0, 0
while live < batch do
  local chunk = redis.call('ZRANGEBYSCORE', P .. 'att_at', '-inf', cutoff, 'LIMIT', offset, 100)
  if #chunk == 0 then break end
  for _, s in ipairs(chunk) do
    local rec = redis.call('HGET', P .. 'att', s)
    local st = rec and redis.call('HGET', P .. 'd:' .. cjson.decode(rec).d, 'status')
    if live < batch and (st == 'pending' or st == 'waiting') then
      drop_attempt(s)
      live = live + 1
      offset = offset - 1
    end
  end
  offset = offset + #chunk
end
return {deliveries, attempts + live}
