-- ARGV: prefix, endpoint, upper bound ('(seq' or '+inf'), limit. Newest first:
-- {seq, attempt json, event, delivery status} per attempt.
local seqs = redis.call('ZREVRANGEBYSCORE', P .. 'log:' .. ARGV[2], ARGV[3], '-inf', 'LIMIT', 0, ARGV[4])
local out = {}
for _, s in ipairs(seqs) do
  local rec = redis.call('HGET', P .. 'att', s)
  if rec then
    local key = P .. 'd:' .. cjson.decode(rec).d
    out[#out + 1] = {s, rec, redis.call('HGET', key, 'event') or '', redis.call('HGET', key, 'status') or ''}
  end
end
return out
