# POST /sumPrime: the 202, its headers and body, content types, methods
# and paths.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_long_string();

our $HttpConfig = <<'_EOC_';
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", $HttpConfig);
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

=== TEST 1: a job is accepted at once
--- request
POST /sumPrime
{"a": 1, "b": 100}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- response_headers_like
Location: /sumPrime/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}
Content-Type: application/json
Cache-Control: no-store
Retry-After: 1
--- response_body_like chomp
^\{"requestId":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}","status":"IN_PROGRESS","payload":null\}$
--- no_error_log
[error]



=== TEST 2: curl's default form content type is accepted
--- request
POST /sumPrime
{"a":1,"b":100}
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code: 202
--- response_body_like: "status":"IN_PROGRESS"



=== TEST 3: no content type is accepted
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 202
--- response_body_like: "status":"IN_PROGRESS"



=== TEST 4: a JSON content type with parameters and a +json suffix
--- request eval
["POST /sumPrime\n{\"a\":1,\"b\":100}", "POST /sumPrime\n{\"a\":1,\"b\":100}"]
--- more_headers eval
["Content-Type: Application/JSON; charset=utf-8", "Content-Type: application/vnd.api+json"]
--- error_code eval
[202, 202]



=== TEST 5: another content type is refused
--- request
POST /sumPrime
{"a":1,"b":100}
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- response_headers
Content-Type: application/json
--- response_body
{"error":"unsupported media type: send the job as application/json"}



=== TEST 6: a collection is not read with GET
--- request
GET /sumPrime
--- error_code: 405
--- response_headers
Allow: POST
Content-Type: application/json
--- response_body
{"error":"method not allowed: jobs are submitted with POST"}



=== TEST 7: nor deleted
--- request
DELETE /sumPrime
--- error_code: 405
--- response_headers
Allow: POST
--- response_body
{"error":"method not allowed: jobs are submitted with POST"}



=== TEST 8: a job is not posted to
--- request
POST /sumPrime/0b5e7b5a-3c2b-4d7e-9f1a-2b3c4d5e6f70
{"a":1,"b":100}
--- error_code: 405
--- response_headers
Allow: GET, HEAD, DELETE
--- response_body
{"error":"method not allowed: jobs are polled with GET and cancelled with DELETE"}



=== TEST 9: other paths under the location are not found
--- request eval
["GET /sumPrimes", "GET /sumPrime/", "GET /sumPrime/0b5e7b5a-3c2b-4d7e-9f1a-2b3c4d5e6f70/x", "POST /sumPrimeX\n{\"a\":1,\"b\":2}"]
--- error_code eval
[404, 404, 404, 404]
--- response_body_like eval
["^\\{\"error\":\"not found", "^\\{\"error\":\"not found", "^\\{\"error\":\"not found", "^\\{\"error\":\"not found"]



=== TEST 10: a location ending with a slash
--- config
    location /jobs/ {
        async_primes;
    }
--- request
POST /jobs/
{"a":1,"b":100}
--- error_code: 202
--- response_headers_like
Location: /jobs/[0-9a-f-]{36}



=== TEST 11: a thread pool of the operator's
--- main_config
    thread_pool primes threads=1 max_queue=16;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool primes;
    }
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 202
