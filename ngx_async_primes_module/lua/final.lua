-- Writes the final record of a job if its worker still holds it: KEYS[1]
-- is the record, ARGV[1] the worker's token, ARGV[2] the final record and
-- ARGV[3] its TTL in ms.  With async_primes_reuse, KEYS[2] keeps the sum
-- ARGV[4] of the range for as long.
--
-- Answers 1 if written, 0 if the record is final already, -1 if another
-- worker holds the job.

local v = redis.call('GET', KEYS[1])

if v then
    if string.sub(v, 1, 4) ~= 'ap1 ' then return 0 end
    if string.match(v, '^ap1 (%S+) ') ~= ARGV[1] then return -1 end
end

redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])

if KEYS[2] then
    redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[3])
end

return 1
