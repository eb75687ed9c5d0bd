-- ARGV: prefix, app, upper bound ('(seq' or '+inf'), status ('' = any), user ('' = any, else
-- '='..id), limit. Newest first.
local status, user, limit = ARGV[4], opt(ARGV[5]), tonumber(ARGV[6])
local out, offset = {}, 0
while #out < limit do
  local chunk = redis.call('ZREVRANGEBYSCORE', P .. 'napp:' .. ARGV[2], ARGV[3], '-inf', 'LIMIT', offset, 100)
  if #chunk == 0 then break end
  for _, id in ipairs(chunk) do
    local key = P .. 'n:' .. id
    local st, u = unpack(redis.call('HMGET', key, 'status', 'user'))
    if #out < limit and (status == '' or st == status) and (not user or u == user) then
      out[#out + 1] = redis.call('HGETALL', key)
    end
  end
  offset = offset + #chunk
end
return out
