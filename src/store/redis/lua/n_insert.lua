-- ARGV: prefix, now, count, then per notification: id, app, client ('' or '='..key), channel,
-- user ('' or '='..id), event, payload, due. A repeated (app, client) returns the stored row;
-- the batch is checked whole before anything is written. Returns {created, row} per entry.
local now, n = ARGV[2], tonumber(ARGV[3])
local clients, ids = {}, {}
for i = 0, n - 1 do
  local b = 4 + i * 8
  local id, app, client = ARGV[b], ARGV[b + 1], opt(ARGV[b + 2])
  local repeat_of = client and (clients[app .. '\0' .. client] or redis.call('HGET', P .. 'nidem:' .. app, client))
  if not repeat_of then
    if ids[id] or redis.call('EXISTS', P .. 'n:' .. id) == 1 then return fail('DUPLICATE', 'notification', id) end
    ids[id] = true
    if client then clients[app .. '\0' .. client] = id end
  end
end
local out = {}
for i = 0, n - 1 do
  local b = 4 + i * 8
  local id, app, client, user = ARGV[b], ARGV[b + 1], opt(ARGV[b + 2]), opt(ARGV[b + 4])
  local existing = client and redis.call('HGET', P .. 'nidem:' .. app, client)
  if existing then
    out[#out + 1] = {0, redis.call('HGETALL', P .. 'n:' .. existing)}
  else
    local key = P .. 'n:' .. id
    local seq = redis.call('INCR', P .. 'seq')
    local m = member(seq, id)
    redis.call('HSET', key, 'id', id, 'app', app, 'channel', ARGV[b + 3], 'event', ARGV[b + 5],
      'payload', ARGV[b + 6], 'due', ARGV[b + 7], 'status', 'pending', 'attempts', 0,
      'created', now, 'updated', now, 'seq', seq, 'm', m, 'lease', 0, 'token', 0)
    if client then
      redis.call('HSET', key, 'client', client)
      redis.call('HSET', P .. 'nidem:' .. app, client, id)
    end
    if user then redis.call('HSET', key, 'user', user) end
    redis.call('ZADD', P .. 'nq', ARGV[b + 7], m)
    redis.call('ZADD', P .. 'napp:' .. app, seq, id)
    redis.call('SADD', P .. 'npend:' .. app, id)
    out[#out + 1] = {1, redis.call('HGETALL', key)}
  end
end
return out
