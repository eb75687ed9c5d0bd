-- ARGV: prefix, then notification ids. Returns per id 1 when it is pending, else 0 (also when
-- unknown): the due path's one read for what was cancelled while it waited on the wheel.
local out = {}
for i = 2, #ARGV do
  out[#out + 1] = redis.call('HGET', P .. 'n:' .. ARGV[i], 'status') == 'pending' and 1 or 0
end
return out
