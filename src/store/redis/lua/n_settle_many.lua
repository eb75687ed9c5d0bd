-- ARGV: prefix, now, then five per notification: id, fencing token ('' = unfenced), status,
-- reason ('' or '='..text), due ('' = keep). Settles, in order, each one still pending and
-- still this claim's, as n_settle.lua does. Returns one integer per notification: 1 settled,
-- 0 not pending (cancelled meanwhile, settled already, unknown), 2 another claim owns it.
local now = ARGV[2]
local out = {}
for i = 3, #ARGV, 5 do
  local id, token, status, reason, due = ARGV[i], ARGV[i + 1], ARGV[i + 2], opt(ARGV[i + 3]), ARGV[i + 4]
  local key = P .. 'n:' .. id
  if redis.call('HGET', key, 'status') ~= 'pending' then
    out[#out + 1] = 0
  elseif token ~= '' and redis.call('HGET', key, 'token') ~= token then
    out[#out + 1] = 2
  else
    settle_row(key, id, status, reason, due, now)
    out[#out + 1] = 1
  end
end
return out
