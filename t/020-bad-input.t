# Bad job bodies: each gets a JSON error with the right status, and nothing
# else happens.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();

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
        async_primes_max_number 1000000;
    }
_EOC_
    }

    if (!defined $block->error_code) {
        $block->set_value("error_code", 400);
    }

    if (!defined $block->no_error_log) {
        $block->set_value("no_error_log", "[error]");
    }
});

run_tests();

__DATA__

=== TEST 1: malformed JSON
--- request
POST /sumPrime
{"a": 1, "b": 100
--- response_body_like: ^\{"error":"malformed JSON at offset \d+"\}$



=== TEST 2: not an object
--- request
POST /sumPrime
[1, 100]
--- response_body
{"error":"request body must be a JSON object"}



=== TEST 3: a member is missing
--- request
POST /sumPrime
{"a": 1}
--- response_body
{"error":"member b is missing"}



=== TEST 4: a duplicate member
--- request
POST /sumPrime
{"a": 1, "b": 100, "a": 2}
--- response_body
{"error":"duplicate member a"}



=== TEST 5: an unknown member
--- request
POST /sumPrime
{"a": 1, "b": 100, "c": 3}
--- response_body
{"error":"unknown member c"}



=== TEST 6: not an integer
--- request
POST /sumPrime
{"a": "one", "b": 100}
--- response_body
{"error":"a must be a positive integer"}



=== TEST 7: negative
--- request
POST /sumPrime
{"a": -1, "b": 100}
--- response_body
{"error":"a must be a positive integer"}



=== TEST 8: zero
--- request
POST /sumPrime
{"a": 0, "b": 100}
--- response_body
{"error":"a must be a positive integer"}



=== TEST 9: a fraction
--- request
POST /sumPrime
{"a": 1, "b": 100.5}
--- response_body
{"error":"b must be an integer, not a fraction"}



=== TEST 10: an exponent
--- request
POST /sumPrime
{"a": 1, "b": 1e3}
--- response_body
{"error":"b must be an integer without an exponent"}



=== TEST 11: too long for 64 bits
--- request
POST /sumPrime
{"a": 1, "b": 184467440737095516160}
--- response_body
{"error":"b is too large (the largest is 18446744073709551615)"}



=== TEST 12: a null, a boolean, an object
--- request eval
["POST /sumPrime\n{\"a\": null, \"b\": 100}", "POST /sumPrime\n{\"a\": 1, \"b\": true}", "POST /sumPrime\n{\"a\": {\"x\": 1}, \"b\": 100}"]
--- error_code eval
[400, 400, 400]
--- response_body eval
["{\"error\":\"a must be a positive integer\"}\n", "{\"error\":\"b must be a positive integer\"}\n", "{\"error\":\"a must be a positive integer\"}\n"]



=== TEST 13: an empty body
--- request
POST /sumPrime
--- response_body
{"error":"request body is empty"}



=== TEST 14: a greater than b
--- request
POST /sumPrime
{"a": 100, "b": 1}
--- error_code: 422
--- response_body
{"error":"a must not be greater than b"}



=== TEST 15: above the configured maximum
--- request
POST /sumPrime
{"a": 1, "b": 1000001}
--- error_code: 422
--- response_body
{"error":"b must not exceed 1000000, the largest number accepted here"}



=== TEST 16: the maximum itself, as a decimal string
--- request
POST /sumPrime
{"a": "999900", "b": "1000000"}
--- error_code: 202



=== TEST 17: a body over client_max_body_size
--- config
    location /sumPrime {
        async_primes;
        client_max_body_size 16;
    }
--- request eval
"POST /sumPrime\n{\"a\": 1, \"b\": 100, \"padding\": \"" . ("x" x 64) . "\"}"
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body
{"error":"request body is too large (client_max_body_size)"}
--- no_error_log
[alert]



=== TEST 18: a body buffered to a temporary file
--- config
    location /sumPrime {
        async_primes;
        client_body_buffer_size 16;
    }
--- request eval
"POST /sumPrime\n{\"a\": 1," . (" " x 4096) . "\"b\": 100}"
--- error_code: 202
--- response_body_like: "status":"IN_PROGRESS"
--- error_log
a client request body is buffered to a temporary file



=== TEST 19: a bad body buffered to a temporary file
--- config
    location /sumPrime {
        async_primes;
        client_body_buffer_size 16;
    }
--- request eval
"POST /sumPrime\n{\"a\": 1," . (" " x 4096) . "\"b\": 100"
--- response_body_like: ^\{"error":"malformed JSON at offset \d+"\}$



=== TEST 20: a chunked body
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /sumPrime\n8\r\n{\"a\": 1,\r\n9\r\n \"b\": 100\r\n1\r\n}\r\n0\r\n\r\n"
--- error_code: 202
--- response_body_like: "status":"IN_PROGRESS"



=== TEST 21: a chunked body over client_max_body_size
--- config
    location /sumPrime {
        async_primes;
        client_max_body_size 8;
    }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /sumPrime\n8\r\n{\"a\": 1,\r\n9\r\n \"b\": 100\r\n1\r\n}\r\n0\r\n\r\n"
--- error_code: 413
--- response_body
{"error":"request body is too large (client_max_body_size)"}
--- no_error_log
[alert]



=== TEST 22: a broken chunked body
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /sumPrime\nzz\r\n{\"a\": 1}\r\n0\r\n\r\n"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body
{"error":"bad request"}
--- no_error_log
[alert]



=== TEST 23: HEAD of an error has headers only
--- request
HEAD /sumPrime/not-an-id
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body
