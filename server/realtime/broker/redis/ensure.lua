-- ensure returns the epoch and head offset of the topic whose meta hash is
-- KEYS[1] and stream KEYS[2]. It starts a new epoch named fresh, and tells
-- the nodes on channel, when the history is gone: no meta, no stream though
-- messages were appended, or a head below the one a node saw in this epoch
-- (seenEpoch, seenHead: writes a crash lost). Every call touches the
-- topic: with no message it expires after ttl ms untouched, with messages
-- after idle ms (its meta hash and stream together).
local function ensure(fresh, ttl, idle, channel, seenEpoch, seenHead)
  local m = redis.call('HMGET', KEYS[1], 'e', 'h')
  local epoch, head = m[1], tonumber(m[2])
  if epoch and not head then epoch = false end
  if epoch and head > 0 and redis.call('EXISTS', KEYS[2]) == 0 then epoch = false end
  if epoch and epoch == seenEpoch and head < seenHead then epoch = false end
  if not epoch then
    epoch, head = fresh, 0
    redis.call('DEL', KEYS[2])
    redis.call('HSET', KEYS[1], 'e', epoch, 'h', 0)
    redis.call('PUBLISH', channel, 'R ' .. epoch .. '\n')
  end
  if head == 0 then
    redis.call('PEXPIRE', KEYS[1], ttl)
  else
    redis.call('PEXPIRE', KEYS[1], idle)
    redis.call('PEXPIRE', KEYS[2], idle)
  end
  return epoch, head
end
