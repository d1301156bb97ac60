# What clients build on: progress in the record of a job in progress,
# Idempotency-Key on submits, and the reuse of stored results.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use JSON::PP ();
use Time::HiRes ();

repeat_each(1);
no_long_string();
no_shuffle();

# a job of a few seconds, and its sum (OEIS A046731)
our $LongJob = '300000000000000';
our $LongJobSum = '1370825181594023992349592711';

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

=== TEST 1: a job in progress reports its progress, from 0 up, until it ends
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, $main::LongJob);
my @seen;
while (1) {
    my $r = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id");
    my $doc = JSON::PP->new->decode($r->{content});
    last if $doc->{status} eq 'FINISHED';
    die "a record in progress without progress: $r->{content}"
        unless $r->{content} =~ /,"progress":(\d\.\d{3})\}\n\z/;
    push @seen, $1;
    die "gave up waiting for the job\n" if @seen > 600;
    Time::HiRes::sleep(0.1);
}
die "progress went back: @seen\n"
    if grep { $seen[$_] < $seen[$_ - 1] } 1 .. $#seen;
die "progress out of [0, 1): @seen\n" if grep { $_ < 0 || $_ >= 1 } @seen;
die "progress never moved: @seen\n" unless grep { $_ > 0 } @seen;
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"$main::LongJobSum"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: a submit retried with its Idempotency-Key, here and on another NGINX, is one job
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_REDIS_PORT};
my $key = 'retry-' . int(rand(1e9));
my $submit = sub {
    my ($p, $k, $body) = @_;
    return ap_http('POST', "http://127.0.0.1:$p/sumPrime", $body // '{"a":1,"b":1000}',
                   { 'Content-Type' => 'application/json',
                     'Idempotency-Key' => $k });
};

my $first = $submit->($port, $key);
die "first: $first->{status} $first->{content}" unless $first->{status} == 202;
my ($id) = $first->{content} =~ /"requestId":"([^"]+)"/;

# the same key quoted as the draft writes it
my $again = $submit->($port, qq("$key"));
die "retry: $again->{status} $again->{content}"
    unless $again->{status} == 202 && $again->{content} =~ /"requestId":"$id"/
           && $again->{headers}{location} eq "/sumPrime/$id";

my ($dir, $other) = ap_start_instance(name => 'second', workers => 2);
my $elsewhere = eval { $submit->($other, $key) };
my $fresh = eval { $submit->($other, "$key-2") };
ap_stop_nginx($dir);
die "retry elsewhere: $elsewhere->{status} $elsewhere->{content}"
    unless $elsewhere->{status} == 202
           && $elsewhere->{content} =~ /"requestId":"$id"/;
die "another key gave the same job\n"
    if $fresh->{content} =~ /"requestId":"$id"/;

$block->set_value("request", "GET /sumPrime/$id");
ap_poll_until($port, $id, 'FINISHED', 10);
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"76127"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200



=== TEST 3: the same Idempotency-Key with another job is 422
--- init
package main;
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'DEL', 'async_primes:idem:k-422');
my $r = ap_http('POST', "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}/sumPrime",
                '{"a":1,"b":100}',
                { 'Content-Type' => 'application/json',
                  'Idempotency-Key' => 'k-422' });
die "first: $r->{status}" unless $r->{status} == 202;
--- request
POST /sumPrime
{"a": 1, "b": 101}
--- more_headers
Content-Type: application/json
Idempotency-Key: k-422
--- error_code: 422
--- response_body
{"error":"the Idempotency-Key was used for another job: send it with the same a and b, or use a new key"}



=== TEST 4: a malformed Idempotency-Key is 400
--- request eval
["POST /sumPrime\n{\"a\":1,\"b\":100}", "POST /sumPrime\n{\"a\":1,\"b\":100}"]
--- more_headers eval
["Content-Type: application/json\nIdempotency-Key: \"\"",
 "Content-Type: application/json\nIdempotency-Key: " . ('k' x 256)]
--- error_code eval
[400, 400]
--- response_body eval
[("{\"error\":\"the Idempotency-Key must be 1 to 255 printable characters, quoted or not\"}\n") x 2]



=== TEST 5: async_primes_reuse answers a known range at once, with a record of its own
--- config
    location /sumPrime {
        async_primes;
        async_primes_reuse on;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'DEL', 'async_primes:sum:1:10000');
my $first = ap_post_job($port, 1, 10000);
ap_poll_until($port, $first, 'FINISHED', 10);

my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime", '{"a":1,"b":10000}',
                { 'Content-Type' => 'application/json' });
die "a known range gave $r->{status}: $r->{content}\n"
    unless $r->{status} == 200 && !defined $r->{headers}{'retry-after'};
my ($id) = $r->{content} =~ /^\{"requestId":"([^"]+)","status":"FINISHED","payload":"5736396"\}\n\z/
    or die "not a finished record: $r->{content}";
die "the reused answer has the first job's id\n" if $id eq $first;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"5736396"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
