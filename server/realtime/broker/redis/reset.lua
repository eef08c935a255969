-- reset drops the topic's history and starts epoch ARGV[1], then tells the
-- nodes. KEYS: meta, stream. ARGV: fresh epoch, empty ttl ms, channel.
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'e', ARGV[1], 'h', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], 'R ' .. ARGV[1] .. '\n')
return ARGV[1]
