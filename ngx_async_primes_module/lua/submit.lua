-- Stores a new job submitted with an Idempotency-Key, or in a location
-- that reuses results.  KEYS[1] is the new record, then come the key's
-- record if ARGV[5] holds "i" and the range's stored sum if it holds "r".
-- ARGV[1] is the record, ARGV[2] its TTL in ms, ARGV[3] what the key keeps
-- ("<requestId> <a> <b>") and ARGV[4] the new id.
--
-- Answers {0} once stored, {1, kept} if the key was used before, {2, sum}
-- if the sum was known: the new record is then stored final.

local n, idem, known = 2

if string.find(ARGV[5], 'i', 1, true) then
    idem = KEYS[n]
    n = n + 1
end

if string.find(ARGV[5], 'r', 1, true) then
    known = KEYS[n]
end

if idem then
    local kept = redis.call('GET', idem)
    if kept then return {1, kept} end
end

local sum = known and redis.call('GET', known)

if sum then
    redis.call('SET', KEYS[1], '{"requestId":"' .. ARGV[4]
               .. '","status":"FINISHED","payload":"' .. sum .. '"}\n',
               'PX', ARGV[2])
else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end

if idem then
    redis.call('SET', idem, ARGV[3], 'PX', ARGV[2])
end

if sum then return {2, sum} end

return {0}
