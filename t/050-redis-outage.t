# Redis stopped, started again, or paused under a running NGINX: 503 at
# once (or after the command timeout) while it is out, served again after,
# logged once each way.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_shuffle();

# a Redis of this test's own, stopped and started (and stopped at exit by
# AsyncPrimesTest)
$ENV{TEST_NGINX_OWN_REDIS_PORT} ||= ap_free_port();

run_tests();

__DATA__

=== TEST 1: out, then back
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT;
    async_primes_redis_timeout 500ms;
--- config
    location /sumPrime {
        async_primes;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_OWN_REDIS_PORT};
my $url = "http://127.0.0.1:$port/sumPrime";
my $settle = sub { ap_post_settles($port, @_) };

ap_start_redis($redis);
my $res = $settle->(202, 10);
my ($id) = $res->{content} =~ /"requestId":"([^"]+)"/;
ap_poll_until($port, $id, 'FINISHED', 10);

ap_stop_redis($redis);
my $t0 = time;
$res = $settle->(503, 5);
die "no Retry-After on a 503\n" unless $res->{headers}{'retry-after'};
die "503 took too long\n" if time - $t0 > 3;

$res = ap_http('GET', "$url/$id");
die "a poll gave $res->{status} while Redis was out\n"
    unless $res->{status} == 503;

ap_start_redis($redis);
$settle->(202, 10);
--- request
POST /sumPrime
{"a": 1, "b": 100}
--- error_code: 202
--- error_log
async_primes: redis "127.0.0.1:
is unreachable
is reachable again



=== TEST 2: the Redis of the job store is down at start
--- http_config
    async_primes_redis 127.0.0.1:1;
--- config
    location /sumPrime {
        async_primes;
    }
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- response_body
{"error":"the job store (redis) is unavailable"}
--- error_log
async_primes: redis "127.0.0.1:1" is unreachable



=== TEST 3: a Redis that stops answering: commands time out, then recover
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT;
    async_primes_redis_timeout 300ms;
--- config
    location /sumPrime {
        async_primes;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_OWN_REDIS_PORT};
my $url = "http://127.0.0.1:$port/sumPrime";
my $post = sub {
    ap_http('POST', $url, '{"a":1,"b":100}',
            { 'Content-Type' => 'application/json' });
};

eval { ap_stop_redis($redis) };    # as the test before left it
ap_start_redis($redis);
ap_post_settles($port, 202, 10);

my ($pid) = ap_redis($redis, 'INFO', 'server') =~ /process_id:(\d+)/;
kill 'STOP', $pid or die "cannot pause redis: $!\n";

my $t0 = Time::HiRes::time();
my $res = $post->();
my $took = Time::HiRes::time() - $t0;
kill 'CONT', $pid;

die "a POST to a paused Redis gave $res->{status}, not 503\n"
    unless $res->{status} == 503;
die sprintf("the 503 took %.2f s, not about the 300 ms timeout\n", $took)
    if $took > 2;

ap_post_settles($port, 202, 10);
--- request
POST /sumPrime
{"a": 1, "b": 100}
--- error_code: 202
--- error_log
command timed out
is reachable again



=== TEST 4: NGINX's own 503 (limit_req) in the location is JSON too
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    limit_req_zone $binary_remote_addr zone=polls:1m rate=1r/m;
--- config
    location /sumPrime {
        async_primes;
        limit_req zone=polls;
    }
--- request eval
["GET /sumPrime/5e0c0ffe-e000-4000-8000-000000000050",
 "GET /sumPrime/5e0c0ffe-e000-4000-8000-000000000050"]
--- error_code eval
[404, 503]
--- response_headers eval
["!Retry-After", "Retry-After: 1"]
--- response_body eval
["{\"error\":\"no such job: it is unknown or has expired\"}\n",
 "{\"error\":\"service unavailable\"}\n"]



=== TEST 5: jobs accepted before an outage end once Redis is back, even empty
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_OWN_REDIS_PORT;
    async_primes_redis_timeout 500ms;
    async_primes_lease 1s;
--- config
    location /sumPrime {
        async_primes;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_OWN_REDIS_PORT};

eval { ap_stop_redis($redis) };
ap_start_redis($redis);
ap_post_settles($port, 202, 10);

# a client that keeps retrying during an outage costs the worker nothing
# (measured with no job computing: a job's own memory would count)
ap_stop_redis($redis);
ap_post_settles($port, 503, 5);
my $before = ap_nginx_rss();
for (1 .. 300) {
    my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                    '{"a":1,"b":100}', { 'Content-Type' => 'application/json' });
    die "a POST while Redis is out gave $r->{status}\n" unless $r->{status} == 503;
}
my $grew = ap_nginx_rss() - $before;
die "300 refused POSTs grew the worker by $grew bytes\n"
    if $grew > 512 * 1024 && !ap_sanitized();
ap_start_redis($redis);
ap_post_settles($port, 202, 10);

# seconds of work, renewing its lease past the outage; and one that ends
# while Redis is out
my $long = ap_post_job($port, '1000000000000000000', '1000000002000000000');
my $short = ap_post_job($port, 1, '10000000000000');
Time::HiRes::sleep(0.2);
ap_stop_redis($redis);
ap_post_settles($port, 503, 5);

# back, without the records (no persistence)
Time::HiRes::sleep(1.5);
ap_start_redis($redis);

my $doc = ap_poll_until($port, $short, 'FINISHED', 30);
die "wrong sum: $doc" unless $doc =~ /"payload":"1699246443377779418889494"/;
$doc = ap_poll_until($port, $long, 'FINISHED', 90);
die "wrong sum: $doc"
    unless $doc =~ /"payload":"48254877048253231431757911"/;
--- request
POST /sumPrime
{"a": 1, "b": 100}
--- error_code: 202
--- error_log
was gone from redis and is stored again
