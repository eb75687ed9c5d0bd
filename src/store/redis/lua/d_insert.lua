-- ARGV: prefix, count, then per delivery: id, endpoint, event, body, created, next.
-- Checks the whole batch before writing, so a failure records nothing.
local n = tonumber(ARGV[2])
local seen = {}
for i = 0, n - 1 do
  local b = 3 + i * 6
  local id, ep = ARGV[b], ARGV[b + 1]
  if seen[id] or redis.call('EXISTS', P .. 'd:' .. id) == 1 then return fail('DUPLICATE', 'delivery', id) end
  if redis.call('EXISTS', P .. 'ep:' .. ep) == 0 then return fail('NOTFOUND', 'endpoint', ep) end
  seen[id] = true
end
for i = 0, n - 1 do
  local b = 3 + i * 6
  local id, ep, nxt = ARGV[b], ARGV[b + 1], ARGV[b + 5]
  local seq = redis.call('INCR', P .. 'seq')
  local m = member(seq, id)
  redis.call('HSET', P .. 'd:' .. id, 'id', id, 'ep', ep, 'event', ARGV[b + 2], 'body', ARGV[b + 3],
    'created', ARGV[b + 4], 'next', nxt, 'attempt', 0, 'status', 'pending', 'seq', seq, 'm', m,
    'updated', ARGV[b + 4], 'lease', 0, 'token', 0)
  redis.call('ZADD', P .. 'dq', nxt, m)
  redis.call('SADD', P .. 'epd:' .. ep, id)
end
return n
