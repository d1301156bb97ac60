# async_primes_cache: the final records of jobs computed by this NGINX are
# kept in shared memory and polls of them are answered without Redis (the
# tests delete the record in Redis to see where an answer came from), for
# no longer than the record's TTL, the least recently used making room.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use Time::HiRes ();

repeat_each(1);
no_long_string();
no_shuffle();
master_on();
workers(2);

our $Redis = $ENV{TEST_NGINX_REDIS_PORT};

# an id no other suite stores a record under
our $Unknown = '00000000-0000-4000-8000-000000000035';

# a job of [1, $b], FINISHED, and its record then deleted from Redis
sub finished_then_deleted {
    my ($port, $b) = @_;
    my $id = ap_post_job($port, 1, $b);
    ap_poll_until($port, $id, 'FINISHED', 10);
    # a poll may see the record before its worker has the reply of the
    # write, and caches it
    Time::HiRes::sleep(0.1);
    ap_redis($main::Redis, 'DEL', "async_primes:job:$id") == 1
        or die "no record of job $id to delete\n";
    return $id;
}

# the statuses of $n polls of $id, each on a connection of its own
sub poll_statuses {
    my ($port, $id, $n) = @_;
    return join ' ', map {
        ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id")->{status}
    } 1 .. $n;
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_cache 1m;
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

=== TEST 1: a finished job is answered from the cache by every worker, without Redis
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = finished_then_deleted($port, 100);
my $statuses = poll_statuses($port, $id, 10);
die "polls answered $statuses\n" if $statuses ne join ' ', (200) x 10;
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_headers
Content-Type: application/json
Cache-Control: no-store
!Retry-After
--- no_error_log
[error]
[warn]



=== TEST 2: without async_primes_cache, the same poll asks Redis
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
package main;
my $id = finished_then_deleted($ENV{TEST_NGINX_SERVER_PORT}, 100);
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 404
--- response_body_like: "error":"no such job



=== TEST 3: an entry ends with the record's TTL
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_redis_timeout 500ms;
    async_primes_cache 1m;
--- config
    location /sumPrime {
        async_primes;
        async_primes_ttl 2s;
        async_primes_lease 1s;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = finished_then_deleted($port, 100);
my $first = poll_statuses($port, $id, 2);
die "polls right after the job answered $first\n" if $first ne '200 200';
Time::HiRes::sleep(2.5);
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 404
--- response_body_like: "error":"no such job



=== TEST 4: a full zone makes room with the least recently used entries
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_cache 32k;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};

# a polled now and then, b never: 32k holds far fewer than 400 entries
my $a = finished_then_deleted($port, 100);
my $b = finished_then_deleted($port, 100);
for my $i (1 .. 400) {
    ap_post_job($port, 1, 100 + $i);
    next if $i % 20;
    my $st = poll_statuses($port, $a, 1);
    die "a was evicted after $i more jobs: $st\n" if $st ne '200';
}
my $st = poll_statuses($port, $b, 1);
die "b, never polled, is still cached after 400 jobs: $st\n" if $st ne '404';
$block->set_value("request", "GET /sumPrime/$a");
$block->set_value("response_body",
    qq({"requestId":"$a","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]
[alert]
[crit]
is not cached



=== TEST 5: a result reused from Redis is cached too
--- config
    location /sumPrime {
        async_primes;
        async_primes_reuse on;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
ap_redis($main::Redis, 'DEL', 'async_primes:sum:1:1000');
my $first = ap_post_job($port, 1, 1000);
ap_poll_until($port, $first, 'FINISHED', 10);
my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime", '{"a":1,"b":1000}',
                { 'Content-Type' => 'application/json' });
die "the second submit answered $r->{status}\n" unless $r->{status} == 200;
my ($id) = $r->{content} =~ /"requestId":"([0-9a-f-]{36})"/;
my $stored = ap_redis($main::Redis, 'GET', "async_primes:job:$id");
die "the reused record differs from the answer: $stored\n"
    unless $stored eq $r->{content};
ap_redis($main::Redis, 'DEL', "async_primes:job:$id");
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", $stored);
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]



=== TEST 6: a reload keeps the cache; the new workers answer from it
--- init
package main;
my ($dir, $port) = ap_start_instance(name => 'cache', workers => 2,
                                     http => 'async_primes_cache 1m;');
my $id = finished_then_deleted($port, 100);
my @old = ap_nginx_workers($dir);
kill 'HUP', ap_nginx_master($dir);
for my $pid (@old) {
    ap_wait_gone($pid, 10) or die "old worker $pid did not exit\n";
}
my $statuses = poll_statuses($port, $id, 6);
ap_stop_nginx($dir);
die "after the reload, polls answered $statuses\n"
    if $statuses ne join ' ', (200) x 6;
ap_redis($main::Redis, 'DEL', "async_primes:job:$main::Unknown");
--- request eval
"GET /sumPrime/$main::Unknown"
--- error_code: 404



=== TEST 7: a finished job is answered from the cache while Redis is out
--- init
package main;
my $redis = ap_free_port();
ap_start_redis($redis);
my ($dir, $port) = ap_start_instance(name => 'cache', workers => 2,
                                     redis => $redis,
                                     http => 'async_primes_cache 1m;');
my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);
ap_stop_redis($redis);
my $cached = poll_statuses($port, $id, 4);
my $unknown = poll_statuses($port, $main::Unknown, 1);
ap_stop_nginx($dir);
die "with Redis out, polls of the finished job answered $cached\n"
    if $cached ne '200 200 200 200';
die "with Redis out, a poll of an unknown job answered $unknown\n"
    if $unknown ne '503';
ap_redis($main::Redis, 'DEL', "async_primes:job:$main::Unknown");
--- request eval
"GET /sumPrime/$main::Unknown"
--- error_code: 404
