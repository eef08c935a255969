-- publish appends ARGV[8..] (type, data pairs) to the topic after the
-- idempotency check, trims the stream and notifies the nodes.
-- KEYS: meta, stream[, idempotency key]. ARGV: fresh epoch, empty ttl ms,
-- idle ttl ms, channel, history, window ms, count, type1, data1, ...
-- Returns {repeat 0|1, epoch, head, count}.
local epoch, head = ensure(ARGV[1], ARGV[2], ARGV[3], ARGV[4], '', 0)
if KEYS[3] then
  local seen = redis.call('GET', KEYS[3])
  if seen then
    local e, o, c = string.match(seen, '^(%w+) (%d+) (%d+)$')
    if e == epoch then return {1, e, tonumber(o), tonumber(c)} end
  end
end
local n = tonumber(ARGV[7])
local first = head + 1
local parts = {'M ', epoch, ' ', tostring(first), ' ', tostring(n), '\n'}
for i = 1, n do
  local t, d = ARGV[6 + 2 * i], ARGV[7 + 2 * i]
  head = head + 1
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], head .. '-0', 't', t, 'd', d)
  parts[#parts + 1] = #t .. ':' .. t .. #d .. ':' .. d
end
redis.call('HSET', KEYS[1], 'h', head)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if KEYS[3] then
  redis.call('SET', KEYS[3], epoch .. ' ' .. head .. ' ' .. n, 'PX', ARGV[6])
end
redis.call('PUBLISH', ARGV[4], table.concat(parts))
return {0, epoch, head, n}
