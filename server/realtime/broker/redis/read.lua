-- read returns the state of the topic and, when the cursor's epoch is the
-- topic's, up to max entries after from.
-- KEYS: meta, stream. ARGV: fresh epoch, empty ttl ms, idle ttl ms,
-- channel, seen epoch, seen head, cursor epoch, from, max.
-- Returns {epoch, head, oldest (head+1 when none), entries}.
local epoch, head = ensure(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]))
local oldest = head + 1
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
local from, max = tonumber(ARGV[8]), tonumber(ARGV[9])
local out = {}
if ARGV[7] == epoch and max > 0 and from < head and from + 1 >= oldest then
  out = redis.call('XRANGE', KEYS[2], (from + 1) .. '-0', '+', 'COUNT', max)
end
return {epoch, head, oldest, out}
