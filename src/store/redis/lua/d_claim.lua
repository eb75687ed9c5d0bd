-- ARGV: prefix, due up to, leases ended by, lease until, limit
release_expired('dl', 'dq', 'd:', 'next', ARGV[3])
return lease_due('dl', 'dq', 'd:', ARGV[2], ARGV[4], ARGV[5])
