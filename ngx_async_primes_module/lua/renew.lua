-- Renews the lease of a job in progress: KEYS[1] is its record, KEYS[2]
-- its cancel mark (cancel.lua), ARGV[1]
-- the token of the worker computing it, ARGV[2] the lease in ms from
-- Redis's own clock, ARGV[3] the record's TTL in ms and ARGV[4] the record
-- after its lease (ngx_async_primes_record_tail()).
--
-- Answers 1, or 2 if the record was gone and is stored again (a Redis that
-- restarted empty), 0 if the job has ended, -1 if another worker holds it,
-- 3 if it is to be cancelled.

-- a write after TIME: Redis before 5 replicates the effects only if asked
redis.replicate_commands()

local v = redis.call('GET', KEYS[1])
local r = 2

if v then
    if string.sub(v, 1, 4) ~= 'ap1 ' then return 0 end
    if string.match(v, '^ap1 (%S+) ') ~= ARGV[1] then return -1 end
    r = 1
end

if redis.call('EXISTS', KEYS[2]) == 1 then return 3 end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

redis.call('SET', KEYS[1], 'ap1 ' .. ARGV[1] .. ' '
           .. string.format('%.0f', now + tonumber(ARGV[2])) .. ARGV[4],
           'PX', ARGV[3])

return r
