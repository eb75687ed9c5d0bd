-- ARGV: prefix, due up to, now, lease until, limit
release_expired('nl', 'nq', 'n:', 'due', ARGV[3])
return lease_due('nl', 'nq', 'n:', ARGV[2], ARGV[4], ARGV[5])
