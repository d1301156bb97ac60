-- wrk -s bench/post.lua: every request is a POST of BENCH_BODY (a tiny job
-- by default) as JSON.

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or '{"a":1,"b":100}'
wrk.headers["Content-Type"] = "application/json"
