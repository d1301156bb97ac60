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
our $LongJob = '100000000000000';
our $LongJobSum = '157589260710736940541561021';

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
