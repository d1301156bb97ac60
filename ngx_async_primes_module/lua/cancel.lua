-- Cancels a job: KEYS[1] is its record, KEYS[2] its cancel mark.  ARGV[1]
-- is the CANCELLED record and ARGV[2] the TTL in ms; ARGV[3] and ARGV[4]
-- are the channel of cancellations and the job's id.
--
-- Answers {0} for no record; {1, record} for a record final already, as it
-- is; {3, record} cancelled here, since nobody held the job; {2, document}
-- while its worker stops it: the mark stays for the worker's next renewal
-- too, if the message is lost.

-- a write after TIME: Redis before 5 replicates the effects only if asked
redis.replicate_commands()

local v = redis.call('GET', KEYS[1])
if not v then return {0} end
if string.sub(v, 1, 4) ~= 'ap1 ' then return {1, v} end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = tonumber(string.match(v, '^ap1 %S+ (%d+) '))

if held == nil or held <= now then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return {3, ARGV[1]}
end

redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])

return {2, string.sub(v, string.find(v, '\n', 1, true) + 1)}
