# Overload: past async_primes_max_jobs a POST is 503 at once and the jobs
# already accepted go on; a thousand jobs in flight keep the worker's memory
# small; polls throttled with limit_req get 429 with Retry-After.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use HTTP::Tiny ();
use JSON::PP ();
use Time::HiRes ();

repeat_each(1);
no_long_string();
no_shuffle();

# about a second each on one core, and the sum of the primes up to 10^14
our $Job = '100000000000000';
our $JobSum = '157589260710736940541561021';

# a prefix sum that keeps the only thread busy for several seconds, its
# tables allocated once at its start, and its sum
our $Blocker = '3000000000000000';
our $BlockerSum = '128095427907058563739084555338';

run_tests();

__DATA__

=== TEST 1: past async_primes_max_jobs a POST is refused at once, the others finish
--- main_config
    thread_pool one threads=1;
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_max_jobs 2;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool one;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my @ids = map { ap_post_job($port, 1, $main::Job) } 1 .. 2;
my $refused = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                      qq({"a":1,"b":$main::Job}),
                      { 'Content-Type' => 'application/json' });
die "a third job gave $refused->{status}: $refused->{content}\n"
    unless $refused->{status} == 503
           && $refused->{content} eq qq({"error":"too many jobs are pending"}\n)
           && ($refused->{headers}{'retry-after'} // '') eq '1';
for my $id (@ids) {
    my $doc = ap_poll_until($port, $id, 'FINISHED', 60);
    die "wrong sum: $doc" unless $doc =~ /"payload":"$main::JobSum"/;
}
# room again
ap_post_job($port, 1, 100);
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000000
--- error_code: 404
--- error_log
async_primes: 2 jobs are pending in this worker, the most async_primes_max_jobs allows



=== TEST 2: a thousand jobs waiting for the thread pool: small memory, all finish
--- main_config
    thread_pool one threads=1;
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool one;
        async_primes_max_work 1m;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $n = 1000;
# a new connection each: on a kept-alive one the body of a POST waits for a
# delayed ACK
my $http = HTTP::Tiny->new(keep_alive => 0, timeout => 10);
my $post = sub {
    my ($a, $b) = @_;
    my $r = $http->request('POST', "http://127.0.0.1:$port/sumPrime",
                           { content => qq({"a":$a,"b":$b}),
                             headers => { 'Content-Type' => 'application/json' } });
    die "POST gave $r->{status}: $r->{content}\n" unless $r->{status} == 202;
    return JSON::PP->new->decode($r->{content})->{requestId};
};

# warm up the allocator and the connection to Redis, then fill the queue
$post->(1, 100) for 1 .. 20;
sleep 1;
my $blocker = $post->(1, $main::Blocker);

# once the blocker has made progress its tables are allocated, and count
# for none of the jobs
my $until = time + 60;
until (ap_http('GET', "http://127.0.0.1:$port/sumPrime/$blocker")->{content}
       =~ /"progress":0\.(?!000)/)
{
    die "the blocker made no progress in 60 s\n" if time > $until;
    Time::HiRes::sleep(0.1);
}
my $before = ap_nginx_rss();
my @ids = map { $post->($_, $_ + 1000) } 1 .. $n;
my $after = ap_nginx_rss();

my $last = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$ids[-1]");
die "the queue drained before it was measured\n"
    unless $last->{content} =~ /IN_PROGRESS/;

my $per_job = ($after - $before) / $n;
Test::More::diag(sprintf "%d jobs in flight: %.0f bytes of worker memory each",
                 $n, $per_job);
die "each pending job costs $per_job bytes\n"
    if $per_job > 8192 && !ap_sanitized();

my $doc = ap_poll_until($port, $blocker, 'FINISHED', 90);
die "wrong sum: $doc" unless $doc =~ /"payload":"$main::BlockerSum"/;
ap_poll_until($port, $_, 'FINISHED', 30) for @ids;
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000000
--- error_code: 404
--- no_error_log
[error]



=== TEST 3: polls throttled with limit_req: 429 as JSON, with Retry-After
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    limit_req_zone $binary_remote_addr zone=polls:1m rate=1r/m;
--- config
    location /sumPrime {
        async_primes;
        limit_req zone=polls;
        limit_req_status 429;
    }
--- request eval
["GET /sumPrime/5e0c0ffe-e000-4000-8000-000000000090",
 "GET /sumPrime/5e0c0ffe-e000-4000-8000-000000000090"]
--- error_code eval
[404, 429]
--- response_headers eval
["!Retry-After", "Retry-After: 1\nContent-Type: application/json"]
--- response_body eval
["{\"error\":\"no such job: it is unknown or has expired\"}\n",
 "{\"error\":\"too many requests\"}\n"]



=== TEST 5: a full thread pool refuses submits with 503 and NGINX logs its refusal once, not once per submit
--- main_config
    thread_pool tiny threads=1 max_queue=1;
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool tiny;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
# one job computing, one in the pool's queue
my @ids = (ap_post_job($port, 1, $main::Job));
select(undef, undef, undef, 0.2);
push @ids, ap_post_job($port, 1, $main::Job);
for my $i (1 .. 20) {
    my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                    qq({"a":1,"b":$main::Job}),
                    { 'Content-Type' => 'application/json' });
    die "submit $i gave $r->{status}: $r->{content}\n"
        unless $r->{status} == 503
               && $r->{content} eq qq({"error":"too many jobs are queued"}\n);
}
for my $id (@ids) {
    my $doc = ap_poll_until($port, $id, 'FINISHED', 60);
    die "wrong sum: $doc" unless $doc =~ /"payload":"$main::JobSum"/;
}
# room again
my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);

my $log = "$FindBin::Bin/servroot";
my $nginx = ap_log_count($log, qr/thread pool "tiny" queue overflow/);
my $ours = ap_log_count($log, qr/thread pool "tiny" is full with 2 tasks/);
die "NGINX logged $nginx refusals and the module $ours warnings, "
    . "not 1 and 1\n" unless $nginx == 1 && $ours == 1;
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000090
--- error_code: 404
