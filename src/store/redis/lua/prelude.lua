-- Shared by every ringcast store script (prepended before loading). ARGV[1] is the key prefix;
-- every key the scripts touch starts with it, so one Redis can hold several clusters.
local P = ARGV[1]
local function opt(v) if v == '' then return nil end return string.sub(v, 2) end
-- An error line the store turns into its typed error: `KIND what status id`, the id last so
-- that it may hold spaces; `status` is `-` unless a conflict names one.
local function fail(kind, what, id, status)
  return redis.error_reply(kind .. ' ' .. what .. ' ' .. (status or '-') .. ' ' .. id)
end
-- A member of a due or lease set: the zero-padded insertion sequence, then the id, so that
-- rows due at the same time come out in insertion order.
local function member(seq, id) return string.format('%016d', seq) .. id end
local function id_of(m) return string.sub(m, 17) end
-- Removes one attempt from the log, its endpoint's index, the time index and its delivery.
local function drop_attempt(s)
  local rec = redis.call('HGET', P .. 'att', s)
  if rec then
    local a = cjson.decode(rec)
    redis.call('ZREM', P .. 'log:' .. a.e, s)
    redis.call('SREM', P .. 'datt:' .. a.d, s)
  end
  redis.call('HDEL', P .. 'att', s)
  redis.call('ZREM', P .. 'att_at', s)
end
-- Removes a delivery with its attempts from every index; returns how many attempts went.
local function drop_delivery(id)
  local key = P .. 'd:' .. id
  local seqs = redis.call('SMEMBERS', P .. 'datt:' .. id)
  for _, s in ipairs(seqs) do drop_attempt(s) end
  redis.call('DEL', P .. 'datt:' .. id)
  local m = redis.call('HGET', key, 'm')
  if m then
    redis.call('ZREM', P .. 'dq', m)
    redis.call('ZREM', P .. 'dl', m)
  end
  local ep = redis.call('HGET', key, 'ep')
  if ep then redis.call('SREM', P .. 'epd:' .. ep, id) end
  redis.call('ZREM', P .. 'dfin', id)
  redis.call('DEL', key)
  return #seqs
end
-- Moves rows whose lease ended by `now` from lease set `l` back to due set `q`, at the time
-- stored in field `f` of their row under `row`.
local function release_expired(l, q, row, f, now)
  local expired = redis.call('ZRANGEBYSCORE', P .. l, '-inf', now)
  for _, m in ipairs(expired) do
    redis.call('ZREM', P .. l, m)
    local due = redis.call('HGET', P .. row .. id_of(m), f)
    if due then redis.call('ZADD', P .. q, due, m) end
  end
end
-- Leases up to `limit` rows of due set `q` with score <= `up_to`, moving them to lease set `l`
-- with a fresh fencing token; returns their rows.
local function lease_due(l, q, row, up_to, until_ms, limit)
  local due = redis.call('ZRANGEBYSCORE', P .. q, '-inf', up_to, 'LIMIT', 0, limit)
  local out = {}
  for _, m in ipairs(due) do
    local key = P .. row .. id_of(m)
    local token = redis.call('INCR', P .. 'fence')
    redis.call('ZREM', P .. q, m)
    redis.call('ZADD', P .. l, until_ms, m)
    redis.call('HSET', key, 'lease', until_ms, 'token', token)
    out[#out + 1] = redis.call('HGETALL', key)
  end
  return out
end
-- Settles pending notification row `key` (member `id`): counts the attempt, ends its lease and
-- either queues it again (status 'pending', at `due` or its old due time) or finishes it.
local function settle_row(key, id, status, reason, due, now)
  local m, app = unpack(redis.call('HMGET', key, 'm', 'app'))
  redis.call('ZREM', P .. 'nl', m)
  redis.call('ZREM', P .. 'nq', m)
  redis.call('HINCRBY', key, 'attempts', 1)
  redis.call('HSET', key, 'status', status, 'updated', now, 'lease', 0, 'token', 0)
  if reason then redis.call('HSET', key, 'reason', reason) else redis.call('HDEL', key, 'reason') end
  if due ~= '' then redis.call('HSET', key, 'due', due) end
  if status == 'pending' then
    redis.call('ZADD', P .. 'nq', redis.call('HGET', key, 'due'), m)
  else
    redis.call('SREM', P .. 'npend:' .. app, id)
    redis.call('ZADD', P .. 'nfin', now, id)
  end
end
