# The work budget (async_primes_max_work) refuses a job before any thread
# runs; async_primes_job_threads splits a job over several threads, exactly.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_
    }
});

# a window the engine sieves, so that it splits
our ($Lo, $Hi) = ('1000000000000', '1000300000000');

run_tests();

__DATA__

=== TEST 1: a job over the budget is refused with its estimate
--- config
    location /sumPrime {
        async_primes;
        async_primes_max_work 1ms;
    }
--- request
POST /sumPrime
{"a": 1, "b": 1000000000}
--- error_code: 422
--- response_body_like: ^\{"error":"the job would take about \d+\.\d s to compute, over the 1 ms allowed here"\}$
--- no_error_log
[error]



=== TEST 2: a budget in seconds reads as seconds
--- config
    location /sumPrime {
        async_primes;
        async_primes_max_work 2s;
    }
--- request
POST /sumPrime
{"a": 1, "b": "1000000000000000"}
--- error_code: 422
--- response_body_like: over the 2 s allowed here"\}$



=== TEST 3: the default budget takes what a default job needs
--- config
    location /sumPrime {
        async_primes;
    }
--- request
POST /sumPrime
{"a": 1, "b": 1000000000}
--- error_code: 202



=== TEST 3a: the 202 of a job of seconds says to come back in seconds
--- config
    location /sumPrime {
        async_primes;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                '{"a":1,"b":300000000000000}',
                { 'Content-Type' => 'application/json' });
die "the 202 said Retry-After: " . ($r->{headers}{'retry-after'} // 'none')
    . "\n" unless $r->{status} == 202
                  && ($r->{headers}{'retry-after'} // '') =~ /^[2-9]$/;
my ($id) = $r->{content} =~ /"requestId":"([^"]+)"/;

# ended here, not left to the next block's NGINX stop
ap_poll_until($port, $id, 'FINISHED', 60);
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000000
--- error_code: 404



=== TEST 4: a job split over threads sums exactly what one thread does
--- main_config
    thread_pool pair threads=2;
--- config
    location /one {
        async_primes;
        async_primes_thread_pool pair;
    }
    location /two {
        async_primes;
        async_primes_thread_pool pair;
        async_primes_job_threads 2;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my ($one, $two) = map {
    my $res = ap_http('POST', "http://127.0.0.1:$port/$_",
                      qq({"a":$main::Lo,"b":$main::Hi}),
                      { 'Content-Type' => 'application/json' });
    die "POST /$_ gave $res->{status}\n" unless $res->{status} == 202;
    $res->{content} =~ /"requestId":"([^"]+)"/;
    $1;
} qw(one two);
my $want = ap_poll_until($port, $one, 'FINISHED', 60, '/one');
my $got = ap_poll_until($port, $two, 'FINISHED', 60, '/two');
s/"requestId":"[^"]+"// for $want, $got;
die "one thread: $want, two threads: $got\n" unless $want eq $got;
$block->set_value("request", "GET /two/$two");
--- request
GET /two/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"\d+"\}$
--- error_log eval
qr/async_primes: job [0-9a-f-]{36} in 2 parts/



=== TEST 4a: a range computed as S(b) - S(a - 1) is shared, not split
The parts share one computation: S(10^12) as known (OEIS A046731), and a
range with a lower end that one thread sums alike.
--- main_config
    thread_pool pair threads=2;
--- config
    location /one {
        async_primes;
        async_primes_thread_pool pair;
    }
    location /two {
        async_primes;
        async_primes_thread_pool pair;
        async_primes_job_threads 2;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $whole = ap_post_job($port, 1, '1000000000000', '/two');
my $got = ap_poll_until($port, $whole, 'FINISHED', 60, '/two');
die "S(10^12) shared: $got\n"
    unless $got =~ /"payload":"18435588552550705911377"/;
my ($one, $two) = map { ap_post_job($port, '300000000000', '1000000000000',
                                    "/$_") } qw(one two);
my $want = ap_poll_until($port, $one, 'FINISHED', 60, '/one');
$got = ap_poll_until($port, $two, 'FINISHED', 60, '/two');
s/"requestId":"[^"]+"// for $want, $got;
die "one thread: $want, two threads: $got\n" unless $want eq $got;
$block->set_value("request", "GET /two/$two");
--- request
GET /two/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"\d+"\}$
--- error_log eval
qr/async_primes: job [0-9a-f-]{36} in 2 parts sharing one computation/



=== TEST 4b: shared parts run one after the other in a pool of one thread
The first part takes all the work, the second finds none left and puts
the result together; three parts, a queue of one.
--- main_config
    thread_pool narrow threads=1 max_queue=1;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool narrow;
        async_primes_job_threads 3;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, '1000000000000');
my $got = ap_poll_until($port, $id, 'FINISHED', 60);
die "S(10^12) in turn: $got\n"
    unless $got =~ /"payload":"18435588552550705911377"/;
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: "payload":"18435588552550705911377"\}$
--- error_log eval
qr/async_primes: job [0-9a-f-]{36} in 3 parts sharing one computation/



=== TEST 5: parts that find the queue full wait for room; the job ends
--- main_config
    thread_pool narrow threads=1 max_queue=1;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool narrow;
        async_primes_job_threads 8;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, $main::Lo, $main::Hi);
ap_poll_until($port, $id, 'FINISHED', 60);
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"\d+"\}$
--- error_log eval
[qr/async_primes: job [0-9a-f-]{36} in 8 parts/,
 'thread pool "narrow" queue overflow']
