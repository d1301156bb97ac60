# Cancellation: DELETE <location>/<requestId>.  A job a worker computes is
# marked and its worker, told through Redis (or by its next renewal),
# stops its threads and writes a CANCELLED record; a job nobody computes is
# cancelled at once; a job that has ended is left as it is.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use POSIX ();
use Time::HiRes ();

repeat_each(1);
no_long_string();
no_shuffle();

# several seconds in one thread
our $LongJob = '300000000000000';

our $Redis = $ENV{TEST_NGINX_REDIS_PORT};

sub delete_job {
    my ($port, $id) = @_;
    return ap_http('DELETE', "http://127.0.0.1:$port/sumPrime/$id");
}

sub cancelled {
    my ($id) = @_;
    return qq({"requestId":"$id","status":"CANCELLED","payload":null}\n);
}

# a record in progress whose worker is gone: its lease ended a second ago
sub orphan {
    my ($id) = @_;
    my $now = int(Time::HiRes::time() * 1000);
    ap_redis($Redis, 'SET', "async_primes:job:$id",
             sprintf("ap1 gone %d 1 1000 %d\n", $now - 1000, $now)
             . qq({"requestId":"$id","status":"IN_PROGRESS","payload":null}\n),
             'EX', 60);
}

add_block_preprocessor(sub {
    my $block = shift;

    return if defined $block->config;

    $block->set_value("main_config", <<'_EOC_');
    thread_pool one threads=1;
_EOC_

    $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_

    $block->set_value("config", <<'_EOC_');
    location /sumPrime {
        async_primes;
        async_primes_thread_pool one;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: an unknown job is a 404, a malformed id too
--- request
DELETE /sumPrime/00000000-0000-4000-8000-000000000130
--- error_code: 404
--- response_body
{"error":"no such job: it is unknown or has expired"}



=== TEST 2: a running job stops at once: its thread takes the next job, its record says CANCELLED
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $long = ap_post_job($port, 1, $main::LongJob);
# queued behind it in the pool's only thread
my $next = ap_post_job($port, 1, 100);
select(undef, undef, undef, 0.3);

my $t0 = Time::HiRes::time();
my $r = delete_job($port, $long);
die "DELETE gave $r->{status}: $r->{content}\n"
    unless $r->{status} == 202
           && $r->{content} =~ /"status":"IN_PROGRESS"/
           && ($r->{headers}{location} // '') eq "/sumPrime/$long";
ap_poll_until($port, $next, 'FINISHED', 5);
my $freed = Time::HiRes::time() - $t0;
Test::More::diag(sprintf "the next job ended %.0f ms after the DELETE",
                 $freed * 1000);

ap_poll_until($port, $long, 'CANCELLED', 5);

# asked again: the same job, cancelled
$r = delete_job($port, $long);
die "a second DELETE gave $r->{status}: $r->{content}\n"
    unless $r->{status} == 200 && $r->{content} eq cancelled($long);
$block->set_value("request", "GET /sumPrime/$long");
$block->set_value("response_body", cancelled($long));
--- error_code: 200
--- error_log
is cancelled
--- no_error_log
[error]



=== TEST 3: a job that has ended is left as it is: 409
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);
my $r = delete_job($port, $id);
die "DELETE gave $r->{status}: $r->{content}\n"
    unless $r->{status} == 409
           && $r->{content} eq
              qq({"error":"the job has ended: it is left as it is"}\n);
$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"1060"



=== TEST 4: a job whose worker is gone is cancelled at once
--- init
package main;
my $id = '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
orphan($id);
my $r = delete_job($ENV{TEST_NGINX_SERVER_PORT}, $id);
die "DELETE gave $r->{status}: $r->{content}\n"
    unless $r->{status} == 200 && $r->{content} eq cancelled($id);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", cancelled($id));
--- error_code: 200



=== TEST 5: a job computed by another NGINX is stopped there
--- init
package main;
my ($b_dir, $b) = ap_start_instance(name => 'b');
my $id = eval {
    ap_post_settles($b, 202, 5);
    my $id = ap_post_job($b, 1, $main::LongJob);
    select(undef, undef, undef, 0.3);
    my $r = delete_job($ENV{TEST_NGINX_SERVER_PORT}, $id);
    die "DELETE gave $r->{status}: $r->{content}\n"
        unless $r->{status} == 202;
    ap_poll_until($b, $id, 'CANCELLED', 5);
    die "B did not say so\n"
        unless ap_log_count($b_dir, qr/job \Q$id\E is cancelled/);
    $id;
};
my $err = $@;
ap_stop_nginx($b_dir);
die $err if $err;
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", cancelled($id));
--- error_code: 200



=== TEST 6: the message lost: the worker's next renewal finds the mark
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, $main::LongJob);
# the mark alone, as if the message had been lost
ap_redis($main::Redis, 'SET', "async_primes:cancel:$id", 1, 'EX', 60);
ap_poll_until($port, $id, 'CANCELLED', 5);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", cancelled($id));
--- error_code: 200
--- error_log
is cancelled



=== TEST 7: a marked job whose worker is gone is cancelled by the poll that would take it over
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = '2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a';
orphan($id);
ap_redis($main::Redis, 'SET', "async_primes:cancel:$id", 1, 'EX', 60);
ap_poll_until($port, $id, 'CANCELLED', 5);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", cancelled($id));
--- error_code: 200
--- error_log
is cancelled: its worker had gone
--- no_error_log
taken over



=== TEST 8: a poll waiting for a job is answered when the job is cancelled
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, $main::LongJob);
my $pid = open(my $child, '-|') // die "fork: $!";
if ($pid == 0) {
    my $r = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id?wait=30");
    print "$r->{status} $r->{content}";
    POSIX::_exit(0);
}
select(undef, undef, undef, 0.3);
delete_job($port, $id);
my $answer = do { local $/; <$child> };
close $child;
die "the waiting poll got: $answer\n"
    unless $answer =~ /^200 .*"status":"CANCELLED"/;
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000130
--- error_code: 404



=== TEST 9: other methods on a job's URI: 405 with Allow
--- request
PUT /sumPrime/00000000-0000-4000-8000-000000000130
--- error_code: 405
--- response_headers
Allow: GET, HEAD, DELETE



=== TEST 10: a job whose threads share one computation stops on all of them
Both threads of the pool are taken by the one job; once it is cancelled
both are free again, the next two jobs end at once, and nothing is lost
or touched after it is freed (SANITIZE=1).
--- main_config
    thread_pool two threads=2;
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool two;
        async_primes_job_threads 2;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $long = ap_post_job($port, 1, '3000000000000000');
select(undef, undef, undef, 0.3);
my $r = delete_job($port, $long);
die "DELETE gave $r->{status}: $r->{content}\n" unless $r->{status} == 202;
ap_poll_until($port, $long, 'CANCELLED', 10);
my @next = map { ap_post_job($port, 1, 1000 + $_) } 1 .. 2;
ap_poll_until($port, $_, 'FINISHED', 3) for @next;
$block->set_value("request", "GET /sumPrime/$long");
$block->set_value("response_body", cancelled($long));
--- error_code: 200
--- error_log eval
[qr/job [0-9a-f-]{36} in 2 parts sharing one computation/, 'is cancelled']
--- no_error_log
[error]
