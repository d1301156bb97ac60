-- Takes over a job whose lease has expired: the keys and arguments of
-- renew.lua.  Answers {1, now} if the lease had expired and is now
-- ARGV[1]'s, {3, now} if it had expired on a job to be cancelled (the
-- worker cancels it instead), else {0, now}: now is Redis's clock in ms,
-- by which a worker whose clock is ahead learns not to try again at every
-- poll.

-- a write after TIME: Redis before 5 replicates the effects only if asked
redis.replicate_commands()

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 4) ~= 'ap1 ' then return {0, now} end

local held = tonumber(string.match(v, '^ap1 %S+ (%d+) '))
if held == nil or held > now then return {0, now} end

if redis.call('EXISTS', KEYS[2]) == 1 then return {3, now} end

redis.call('SET', KEYS[1], 'ap1 ' .. ARGV[1] .. ' '
           .. string.format('%.0f', now + tonumber(ARGV[2])) .. ARGV[4],
           'PX', ARGV[3])

return {1, now}
