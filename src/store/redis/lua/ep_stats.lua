-- ARGV: prefix, app, since. Per endpoint: id, name, attempts, 2xx, latency sum, breaker.
local since = tonumber(ARGV[3])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'app_eps:' .. ARGV[2], 0, -1)) do
  local json = redis.call('GET', P .. 'ep:' .. id)
  if json then
    local n, ok, lat = 0, 0, 0
    for _, s in ipairs(redis.call('ZRANGE', P .. 'log:' .. id, 0, -1)) do
      local rec = redis.call('HGET', P .. 'att', s)
      if rec then
        local a = cjson.decode(rec)
        if tonumber(a.t) >= since then
          n = n + 1
          lat = lat + tonumber(a.l)
          local code = tonumber(a.c)
          if code and code >= 200 and code <= 299 then ok = ok + 1 end
        end
      end
    end
    out[#out + 1] = {id, cjson.decode(json).name, n, ok, lat, redis.call('GET', P .. 'br:' .. id) or ''}
  end
end
return out
