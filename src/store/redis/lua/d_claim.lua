-- ARGV: prefix, now, lease until, limit
release_expired('dl', 'dq', 'd:', 'next', ARGV[2])
return lease_due('dl', 'dq', 'd:', ARGV[2], ARGV[3], ARGV[4])
