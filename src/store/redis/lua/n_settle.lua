-- ARGV: prefix, id, fencing token ('' = unfenced), status, reason ('' or '='..text), due
-- ('' = keep), now. Returns 'stale' when the token is no longer the row's: the lease ran out
-- and another claim owns the notification, whose result must not be overwritten.
local id, token, status, reason, due, now = ARGV[2], ARGV[3], ARGV[4], opt(ARGV[5]), ARGV[6], ARGV[7]
local key = P .. 'n:' .. id
local st = redis.call('HGET', key, 'status')
if not st then return fail('NOTFOUND', 'notification', id) end
if st ~= 'pending' then return fail('CONFLICT', 'notification', id, st) end
if token ~= '' and redis.call('HGET', key, 'token') ~= token then return 'stale' end
settle_row(key, id, status, reason, due, now)
return 'ok'
