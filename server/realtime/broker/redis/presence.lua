-- Presence of one topic: KEYS[1] a HASH client -> member JSON, KEYS[2] a
-- ZSET client -> expiry (ms, Redis's clock). ARGV[1] is the operation.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local op = ARGV[1]
if op == 'join' then -- client, member, ttl ms, max members
  local had = redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1
  if not had and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then return -1 end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[2])
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  local keep = tonumber(last[2]) - now + 60000 -- the keys outlive their last member by a minute
  redis.call('PEXPIRE', KEYS[1], keep)
  redis.call('PEXPIRE', KEYS[2], keep)
  if had then return 0 end
  return 1
elseif op == 'leave' then -- client
  redis.call('ZREM', KEYS[2], ARGV[2])
  return redis.call('HDEL', KEYS[1], ARGV[2])
elseif op == 'members' then
  local cs = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')
  if #cs == 0 then return {} end
  return redis.call('HMGET', KEYS[1], unpack(cs))
elseif op == 'expire' then
  local cs = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  local out = {}
  for _, c in ipairs(cs) do
    local m = redis.call('HGET', KEYS[1], c)
    if m then out[#out + 1] = m end
    redis.call('HDEL', KEYS[1], c)
    redis.call('ZREM', KEYS[2], c)
  end
  return out
end
return redis.error_reply('unknown presence operation')
