# GET /sumPrime/{requestId}: records as stored in Redis are served as they
# are (a job in progress without its header line); unknown, expired and
# malformed ids are 404.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use Time::HiRes ();

repeat_each(2);
no_long_string();

our $Id = '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b';

# a record in progress, held by another worker until $lease ms from now and
# expected to end $eta ms from now
sub in_progress {
    my ($lease, $eta) = @_;
    my $now = int(Time::HiRes::time() * 1000);

    return sprintf("ap1 %s %d 1 100 %d\n", '0f8fad5b-d9cb-469f-a165-70867728950e',
                   $now + $lease, $now + $eta)
           . qq({"requestId":"$Id","status":"IN_PROGRESS","payload":null}\n);
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location /sumPrime {
        async_primes;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: a finished job is served as stored
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         qq({"requestId":"$main::Id","status":"FINISHED","payload":"1060"}\n),
         'EX', 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
!Retry-After
--- response_body eval
qq({"requestId":"$main::Id","status":"FINISHED","payload":"1060"}\n)
--- no_error_log
[error]



=== TEST 2: a job in progress says when to poll again
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         in_progress(60000, -5000), 'EX', 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 200
--- response_headers
Retry-After: 1
--- response_body eval
qq({"requestId":"$main::Id","status":"IN_PROGRESS","payload":null}\n)
--- no_error_log
taken over



=== TEST 2a: Retry-After is when the job is expected to end
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         in_progress(60000, 30500), 'EX', 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 200
--- response_headers_like
Retry-After: 3[01]
--- response_body eval
qq({"requestId":"$main::Id","status":"IN_PROGRESS","payload":null}\n)



=== TEST 2b: a stored value that is not a record is an error, not a crash
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         "ap1 x 1 2 3\n{}", 'EX', 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 500
--- response_body
{"error":"the job store (redis) answered with an error"}
--- error_log
async_primes: unexpected redis reply of type 1 to GET: ap1 x 1 2 3



=== TEST 2c: a job whose lease has expired is taken over by a poll
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_redis_timeout 500ms;
    async_primes_lease 1s;
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         in_progress(-1000, -1000), 'EX', 60);
# nothing but a takeover computes it here
ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $main::Id, 'FINISHED', 10);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 200
--- response_body eval
qq({"requestId":"$main::Id","status":"FINISHED","payload":"1060"}\n)



=== TEST 2d: a record over this location's budget is not taken over
--- init
package main;
my $now = int(Time::HiRes::time() * 1000);
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         sprintf("ap1 gone %d 1 18446744073709551615 %d\n", $now - 1000, $now)
         . qq({"requestId":"$main::Id","status":"IN_PROGRESS","payload":null}\n),
         'EX', 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 200
--- response_body eval
qq({"requestId":"$main::Id","status":"IN_PROGRESS","payload":null}\n)
--- error_log
is over async_primes_max_work here
--- no_error_log
taken over: the lease



=== TEST 3: a failed job
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         qq({"requestId":"$main::Id","status":"FAILED","payload":null,"error":"out of memory"}\n),
         'EX', 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 200
--- response_headers
!Retry-After
--- response_body_like: "status":"FAILED","payload":null,"error":"out of memory"



=== TEST 4: HEAD of a job
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         qq({"requestId":"$main::Id","status":"FINISHED","payload":"1060"}\n),
         'EX', 60);
--- request eval
"HEAD /sumPrime/$main::Id"
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body



=== TEST 5: an unknown job
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000000
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body
{"error":"no such job: it is unknown or has expired"}



=== TEST 6: an expired job
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$main::Id",
         qq({"requestId":"$main::Id","status":"FINISHED","payload":"1060"}\n),
         'PX', 1);
select(undef, undef, undef, 0.05);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 404
--- response_body
{"error":"no such job: it is unknown or has expired"}



=== TEST 7: malformed ids never reach Redis (here: an unreachable one)
--- http_config
    async_primes_redis 127.0.0.1:1;
--- request eval
["GET /sumPrime/xyz",
 "GET /sumPrime/6F1C2A3B-4D5E-4F60-8A7B-9C0D1E2F3A4B",
 "GET /sumPrime/6f1c2a3b-4d5e-1f60-8a7b-9c0d1e2f3a4b",
 "GET /sumPrime/6f1c2a3b-4d5e-4f60-7a7b-9c0d1e2f3a4b",
 "GET /sumPrime/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b0",
 "GET /sumPrime/%2a"]
--- error_code eval
[404, 404, 404, 404, 404, 404]
--- response_body eval
[("{\"error\":\"no such job: the request id is malformed\"}\n") x 6]



=== TEST 8: a well-formed id with Redis down is 503, not 404
--- http_config
    async_primes_redis 127.0.0.1:1;
--- request
GET /sumPrime/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body
{"error":"the job store (redis) is unavailable"}



=== TEST 9: something else under the key is an error, not a crash
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'DEL', "async_primes:job:$main::Id");
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'RPUSH', "async_primes:job:$main::Id", 'x');
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'EXPIRE', "async_primes:job:$main::Id", 60);
--- request eval
"GET /sumPrime/$main::Id"
--- error_code: 500
--- response_body
{"error":"the job store (redis) answered with an error"}
--- error_log
async_primes: unexpected redis reply
