-- wrk -s bench/pace.lua: each connection waits BENCH_DELAY_MS milliseconds
-- between a response and its next request, so the load is a steady rate
-- below what the server can take and latency is not queueing at saturation.
-- wrk times a request from when it is sent: the wait is not counted.

local ms = tonumber(os.getenv("BENCH_DELAY_MS") or "10")

function delay()
    return ms
end
