# Jobs end to end: submitted, computed in the thread pool, stored, polled,
# on any worker and any NGINX that shares the Redis.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_shuffle();
master_on();
workers(2);

# a job that computes for a few seconds, and its sum (OEIS A046731)
our $LongJob = '300000000000000';
our $LongJobSum = '1370825181594023992349592711';

# a second NGINX, one worker, whose pool has one thread and a queue of one
sub start_solo {
    return ap_start_instance(
        name => 'second',
        main => 'thread_pool solo threads=1 max_queue=1;',
        location => 'async_primes_thread_pool solo;
                     async_primes_max_number 18446744073709551615;');
}

# its thread busy with a job of about a second, its queue full with
# another: returns their ids
sub fill_solo {
    my ($port) = @_;
    return (ap_post_job($port, 1, 100000000000000),
            ap_post_job($port, 1000000000000, 1000100000000));
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
        async_primes_max_number 18446744073709551615;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: the sum of the primes up to 100
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, 100);
ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 10);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_headers
!Retry-After
--- no_error_log
[error]
[alert]



=== TEST 2: a poll right after the 202 finds the record, on any worker
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, 1000000);
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: ^\{"requestId":"[0-9a-f-]{36}","status":"(IN_PROGRESS|FINISHED)"



=== TEST 3: ranges without primes, single primes, composites
--- init
package main;
my @jobs = ([24, 28, '0'], [1, 1, '0'], [2, 2, '2'], [97, 97, '97'],
            [91, 91, '0'], [1, 2000000, '142913828922']);
my @ids;
for my $job (@jobs) {
    push @ids, ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, $job->[0], $job->[1]);
}
for my $id (@ids) {
    ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 20);
}
$block->set_value("request", [map { "GET /sumPrime/$_" } @ids]);
$block->set_value("error_code", [(200) x @ids]);
$block->set_value("response_body", [map {
    qq({"requestId":"$ids[$_]","status":"FINISHED","payload":"$jobs[$_][2]"}\n)
} 0 .. $#ids]);
--- request
GET /sumPrime/placeholder



=== TEST 4: many jobs at once share the pipeline and all end
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my @ids = map { ap_post_job($port, 1, 1000 * $_) } 1 .. 40;
ap_poll_until($port, $_, 'FINISHED', 30) for @ids;
$block->set_value("request", "GET /sumPrime/$ids[-1]");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"79170666"\}$
--- no_error_log
[error]



=== TEST 5: a sum over 64 bits, near the top of the 64-bit range
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT},
                     '18446744073709550616', '18446744073709551615');
ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 20);
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"387381625547900573443"\}$



=== TEST 6: a poll answered by another NGINX that did not take the POST
--- init
package main;
my ($dir, $port) = ap_start_instance(name => 'second', workers => 1);
my $id = eval {
    my $id = ap_post_job($port, 1, 100);
    ap_poll_until($port, $id, 'FINISHED', 10);
    $id;
};
my $err = $@;
ap_stop_nginx($dir);
die $err if $err;
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200



=== TEST 7: a job that computes for longer than the TTL does not vanish
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_redis_timeout 250ms;
--- config
    location /sumPrime {
        async_primes;
        async_primes_ttl 1s;
        async_primes_max_work 1m;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $t0 = Time::HiRes::time();
my $id = ap_post_job($port, 1, $main::LongJob);
my $body;
while (1) {
    my $res = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id");
    die "the record vanished while its job computed ($res->{status})\n"
        unless $res->{status} == 200;
    last if $res->{content} =~ /"FINISHED"/;
    die "the job did not finish in 120 s\n"
        if Time::HiRes::time() - $t0 > 120;
    Time::HiRes::sleep(0.2);
}
my $took = Time::HiRes::time() - $t0;
die sprintf("the job took %.2f s, not half again its TTL: no proof\n",
            $took) if $took < 1.5;
$block->set_value("request", "GET /sumPrime/$id");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like eval
qr/"status":"FINISHED","payload":"$main::LongJobSum"\}$/



=== TEST 8: a full thread pool queue is a 503, and the jobs it holds go on
--- main_config
    thread_pool tiny threads=1 max_queue=1;
--- config
    location /sumPrime {
        async_primes;
        async_primes_thread_pool tiny;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $url = "http://127.0.0.1:$port/sumPrime";
my (@ids, $refused);
for (1 .. 8) {
    # a window the engine sieves: about a quarter of a second each
    my $res = ap_http('POST', $url,
                      '{"a":1000000000000,"b":1001000000000}',
                      { 'Content-Type' => 'application/json' });
    if ($res->{status} == 202) {
        push @ids, $res->{content} =~ /"requestId":"([^"]+)"/;
    } elsif ($res->{status} == 503) {
        $refused = $res;
    } else {
        die "a POST gave $res->{status}\n";
    }
}
die "the queue never overflowed\n" unless $refused;
die "no Retry-After on the 503\n" unless $refused->{headers}{'retry-after'};
die "unexpected 503 body: $refused->{content}\n"
    unless $refused->{content} eq qq({"error":"too many jobs are queued"}\n);
ap_poll_until($port, $_, 'FINISHED', 60) for @ids;
$block->set_value("request", "GET /sumPrime/$ids[-1]");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"36209085461319490327"\}$
--- error_log
thread pool "tiny" queue overflow



=== TEST 9: async_primes_key_prefix keeps two sites apart on one Redis
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_key_prefix site-a:;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_REDIS_PORT};
my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);

die "no record under the prefix\n"
    unless ap_redis($redis, 'EXISTS', "site-a:job:$id") == 1;
die "a record under the default prefix\n"
    unless ap_redis($redis, 'EXISTS', "async_primes:job:$id") == 0;

# a site with the default prefix on the same Redis does not know the job
my ($dir, $other) = ap_start_instance(name => 'second', workers => 1);
my $r = ap_http('GET', "http://127.0.0.1:$other/sumPrime/$id");
ap_stop_nginx($dir);
die "the other site answered $r->{status} for the job\n"
    unless $r->{status} == 404;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200



=== TEST 10: a job that ends early in its lease is written without a script, and keeps its TTL
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_REDIS_PORT};
ap_redis($redis, 'CONFIG', 'RESETSTAT');
# milliseconds of work: not a tiny job computed before its record
my $id = ap_post_job($port, 1, 1000000000);
ap_poll_until($port, $id, 'FINISHED', 10);

# nothing else runs here: no lease was renewed, no script ran
my $stats = ap_redis($redis, 'INFO', 'commandstats');
die "a script ran: $stats\n" if $stats =~ /cmdstat_eval/;
die "no SET ran: $stats\n" unless $stats =~ /cmdstat_set:calls=2,/;

my $pttl = ap_redis($redis, 'PTTL', "async_primes:job:$id");
die "the record's TTL is $pttl ms, not within 3 minutes\n"
    unless $pttl > 0 && $pttl <= 180000;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"24739512092254535"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]



=== TEST 11: a tiny job is computed before its record is stored: one write a job
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_REDIS_PORT};
ap_post_job($port, 1, 100);    # the workers are connected
ap_redis($redis, 'CONFIG', 'RESETSTAT');
my @ids = map { ap_post_job($port, 1, 1000 + $_) } 1 .. 10;
my $stats = ap_redis($redis, 'INFO', 'commandstats');
my ($sets) = $stats =~ /^cmdstat_set:calls=(\d+)/m;
# a pool that does not give a job back within 2 ms stores it in progress
# first: a few of those on a busy machine
die "10 tiny jobs took " . ($sets // 0) . " SETs\n"
    unless defined $sets && $sets >= 10 && $sets <= 13;
ap_poll_until($port, $_, 'FINISHED', 10) for @ids;
$block->set_value("request", "GET /sumPrime/$ids[0]");
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"\d+"
--- no_error_log
[error]



=== TEST 12: tiny jobs ride on the task of another while the thread is busy: no slot of the queue each, and all end
A pool of one thread busy with a long job and a queue of one: the first
tiny job takes the queue's slot, the next 16 ride on its task, the one
after them finds the queue full.
--- init
package main;
my ($dir, $port) = start_solo();
my (@ids, @status);
my $err;
eval {
    my $long = ap_post_job($port, 1, $main::LongJob);
    for my $k (1 .. 18) {
        my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                        qq({"a":1,"b":${\ (100 + $k)}}),
                        { 'Content-Type' => 'application/json' });
        push @status, $r->{status};
        push @ids, $r->{content} =~ /"requestId":"([^"]+)"/
            if $r->{status} == 202;
    }
    die "the long job ended before the tiny ones were in\n"
        if ap_http('GET', "http://127.0.0.1:$port/sumPrime/$long")->{content}
           !~ /IN_PROGRESS/;
    die "tiny jobs answered @status, not 17 202s and a 503\n"
        unless "@status" eq join(' ', (202) x 17, 503);
    # 1060 is the sum up to 100; 101, 103, 107, 109 and 113 are primes
    my %want = (1 => 1161, 2 => 1161, 3 => 1264, 4 => 1264, 5 => 1264,
                6 => 1264, 7 => 1371, 8 => 1371, 9 => 1480);
    for my $k (1 .. 9) {
        my $got = ap_poll_until($port, $ids[$k - 1], 'FINISHED', 120);
        die "job [1, ${\ (100 + $k)}]: $got\n"
            unless $got =~ /"payload":"$want{$k}"/;
    }
    ap_poll_until($port, $_, 'FINISHED', 10) for @ids[9 .. 16];
    die "more than one queue overflow\n"
        unless ap_log_count($dir, qr/thread pool "solo" queue overflow/) == 1;
};
$err = $@;
eval { ap_stop_nginx($dir) };
die $err if $err;
$block->set_value("request", "GET /sumPrime/placeholder");
--- request
GET /sumPrime/placeholder
--- error_code: 404



=== TEST 13: a tiny job whose task the full queue refuses gets its 503, and the pool takes tiny jobs again once it has room
The tiny job's task is posted at the end of the event loop's cycle and
refused there: the job is stored as any other and refused then.
--- init
package main;
my ($dir, $port) = start_solo();
my $err;
eval {
    my ($long, $queued) = fill_solo($port);
    my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                    '{"a":1,"b":100}',
                    { 'Content-Type' => 'application/json' });
    die "the tiny job got $r->{status}, not 503: $r->{content}\n"
        unless $r->{status} == 503
               && $r->{content} =~ /too many jobs are queued/;
    ap_poll_until($port, $long, 'FINISHED', 120);
    ap_poll_until($port, $queued, 'FINISHED', 60);
    my $tiny = ap_post_job($port, 1, 100);
    my $got = ap_poll_until($port, $tiny, 'FINISHED', 10);
    die "the tiny job after: $got\n" unless $got =~ /"payload":"1060"/;
    die "not one queue overflow\n"
        unless ap_log_count($dir, qr/thread pool "solo" queue overflow/) == 1;
    # the refused task is not counted: the pool holds the long and the
    # queued one
    die "the pool's tasks miscounted\n"
        unless ap_log_count($dir,
                   qr/thread pool "solo" is full with 2 tasks of this worker/);
    die "an alert\n" if ap_log_count($dir, qr/\[alert\]/);
};
$err = $@;
eval { ap_stop_nginx($dir) };
die $err if $err;
$block->set_value("request", "GET /sumPrime/placeholder");
--- request
GET /sumPrime/placeholder
--- error_code: 404



=== TEST 14: a tiny job with an Idempotency-Key is stored first: a full queue refuses it at once
Its task is posted as it is made, not at the end of the cycle: the 503
comes before any 202 could, and the key is free again.
--- init
package main;
my ($dir, $port) = start_solo();
my $err;
eval {
    my $key = "t040-14-$$-" . time;
    my ($long, $queued) = fill_solo($port);
    my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                    '{"a":1,"b":100}',
                    { 'Content-Type' => 'application/json',
                      'Idempotency-Key' => $key });
    die "the tiny job got $r->{status}, not 503: $r->{content}\n"
        unless $r->{status} == 503
               && $r->{content} =~ /too many jobs are queued/;
    ap_poll_until($port, $long, 'FINISHED', 120);
    ap_poll_until($port, $queued, 'FINISHED', 60);
    $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                 '{"a":1,"b":100}',
                 { 'Content-Type' => 'application/json',
                   'Idempotency-Key' => $key });
    die "the key again got $r->{status}, not 202\n" unless $r->{status} == 202;
    my ($tiny) = $r->{content} =~ /"requestId":"([^"]+)"/;
    my $got = ap_poll_until($port, $tiny, 'FINISHED', 10);
    die "the tiny job: $got\n" unless $got =~ /"payload":"1060"/;
    die "an alert\n" if ap_log_count($dir, qr/\[alert\]/);
};
$err = $@;
eval { ap_stop_nginx($dir) };
die $err if $err;
$block->set_value("request", "GET /sumPrime/placeholder");
--- request
GET /sumPrime/placeholder
--- error_code: 404



=== TEST 15: tiny submits that arrive together share one task
Eight submits written at once on eight connections: those a worker reads
in one cycle of its event loop ride on one task, posted at its end.
--- init
package main;
use IO::Socket::INET ();
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $log = ($ENV{TEST_NGINX_SERVROOT} // "$FindBin::Bin/servroot")
          . '/logs/error.log';
my $body = '{"a":1,"b":100}';
my $req = "POST /sumPrime HTTP/1.1\r\nHost: localhost\r\n"
          . "Content-Type: application/json\r\n"
          . "Content-Length: " . length($body) . "\r\n\r\n$body";
my $shared;
for my $try (1 .. 10) {
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Proto => 'tcp')
            or die "connect: $!\n"
    } 1 .. 8;
    syswrite($_, $req) for @socks;
    for my $s (@socks) {
        my $answer = '';
        while ($answer !~ /\r\n\r\n.*\}\n/s) {
            sysread($s, $answer, 4096, length $answer) or last;
        }
        die "a submit answered: $answer\n" unless $answer =~ m{^HTTP/1.1 202};
        close $s;
    }
    open my $fh, '<', $log or die "$log: $!\n";
    $shared = grep { /a task of ([2-9]|\d\d+) tiny parts/ } <$fh>;
    last if $shared;
}
die "no task carried two tiny parts in 10 tries\n" unless $shared;
$block->set_value("request", "GET /sumPrime/placeholder");
--- request
GET /sumPrime/placeholder
--- error_code: 404
