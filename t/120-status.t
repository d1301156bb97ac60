# async_primes_status: the module's counters, summed over the workers in
# shared memory, as plain text or in Prometheus's text format (checked with
# the prometheus_client parser of Debian's python3-prometheus-client).

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use File::Temp ();
use POSIX ();
use Time::HiRes ();

repeat_each(1);
no_long_string();
no_shuffle();
master_on();
workers(2);

# several seconds
our $LongJob = '300000000000000';

our $Python = '/usr/bin/python3';

sub status {
    my ($query, $headers) = @_;
    my $r = ap_http('GET', "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}"
                           . "/status$query", undef, $headers);
    die "the status answered $r->{status}\n" unless $r->{status} == 200;
    return $r;
}

# the plain text as { name => value }
sub plain {
    my %v = map { /^(\S+) (\d+)$/ ? ($1 => $2) : () }
            split /\n/, status('')->{content};
    return \%v;
}

# the samples of the Prometheus text, as Prometheus's own parser reads them
sub prometheus {
    my ($text) = @_;
    my ($fh, $file) = File::Temp::tempfile('ap-metrics-XXXXXX', TMPDIR => 1,
                                           UNLINK => 1);
    print $fh $text;
    close $fh;
    my $out = `$Python -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in f.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print(f.type, s.name + ("{" + labels + "}" if labels else ""), s.value)
' $file 2>&1`;
    die "prometheus_client could not parse the text: $out" if $?;
    my %v;
    for (split /\n/, $out) {
        my ($type, $name, $value) = split ' ';
        $v{$name} = [$type, $value];
    }
    return \%v;
}

sub post {
    my ($body) = @_;
    return ap_http('POST', "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}"
                           . "/sumPrime", $body,
                   { 'Content-Type' => 'application/json' });
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location /sumPrime {
        async_primes;
        async_primes_max_work 10s;
    }

    location = /status {
        async_primes_status;
    }
_EOC_

    $block->set_value("request", "GET /status") unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: jobs and refusals, summed over the workers
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my @ids = map { ap_post_job($port, 1, 1000 + $_) } 1 .. 6;
ap_poll_until($port, $_, 'FINISHED', 10) for @ids;

post('{"a":1}')->{status} == 400 or die "no 400\n";

# a job whose worker is gone, cancelled at once
my $orphan = '3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b';
my $now = int(Time::HiRes::time() * 1000);
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SET', "async_primes:job:$orphan",
         sprintf("ap1 gone %d 1 1000 %d\n", $now - 1000, $now)
         . qq({"requestId":"$orphan","status":"IN_PROGRESS","payload":null}\n),
         'EX', 60);
ap_http('DELETE', "http://127.0.0.1:$port/sumPrime/$orphan")->{status} == 200
    or die "the orphan was not cancelled\n";
post('{"a":5,"b":2}')->{status} == 422 or die "no 422\n";
post('{"a":1,"b":18446744073709551615}')->{status} == 422
    or die "no 422 for the work\n";

my $v = plain();
my %want = (jobs_submitted_total => 6, jobs_finished_total => 6,
            jobs_failed_total => 0, jobs_cancelled_total => 1,
            jobs_in_flight => 0,
            submits_refused_bad_input_total => 2,
            submits_refused_over_budget_total => 1,
            submits_refused_queue_full_total => 0,
            polls_waiting => 0, thread_pool_tasks => 0);
for my $name (sort keys %want) {
    die "$name is " . ($v->{$name} // 'missing') . ", not $want{$name}\n"
        unless defined $v->{$name} && $v->{$name} == $want{$name};
}
die "no Redis reply timed\n" unless $v->{redis_replies} > 0;
--- error_code: 200
--- response_headers
Content-Type: text/plain
--- response_body_like: (?m)^jobs_submitted_total \d+$



=== TEST 2: the gauges while a job computes and a poll waits for it
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, $main::LongJob);
my $pid = fork() // die "fork: $!";
if ($pid == 0) {
    ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id?wait=3");
    POSIX::_exit(0);
}
select(undef, undef, undef, 0.5);
my $v = plain();
waitpid($pid, 0);
die "in flight $v->{jobs_in_flight}, waiting $v->{polls_waiting}, "
    . "tasks $v->{thread_pool_tasks}, not 1, 1, 1\n"
    unless $v->{jobs_in_flight} == 1 && $v->{polls_waiting} == 1
           && $v->{thread_pool_tasks} == 1;
$v = plain();
die "a poll still waits after its time\n" unless $v->{polls_waiting} == 0;
--- error_code: 200



=== TEST 3: Prometheus's text format, read by Prometheus's parser, for ?format=prometheus and for its Accept
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);
post('{"a":1}');

my $r = status('?format=prometheus');
die "Content-Type $r->{headers}{'content-type'}\n"
    unless $r->{headers}{'content-type'}
           eq 'text/plain; version=0.0.4; charset=utf-8';
my $v = prometheus($r->{content});

my @want = (
    [counter => 'async_primes_jobs_submitted_total', 1],
    [counter => 'async_primes_jobs_finished_total', 1],
    [counter => 'async_primes_submits_refused_bad_input_total', 1],
    [gauge => 'async_primes_jobs_in_flight', 0],
    [gauge => 'async_primes_polls_waiting', 0],
);
for my $w (@want) {
    my ($type, $name, $value) = @$w;
    my $got = $v->{$name} or die "no $name in:\n$r->{content}";
    die "$name: $got->[0] $got->[1], not $type $value\n"
        unless $got->[0] eq $type && $got->[1] == $value;
}

my $count = $v->{async_primes_redis_reply_seconds_count}
    or die "no histogram in:\n$r->{content}";
die "the histogram is a $count->[0]\n" unless $count->[0] eq 'histogram';
my $inf = $v->{'async_primes_redis_reply_seconds_bucket{le=+Inf}'}
    or die "no +Inf bucket\n";
die "the +Inf bucket holds $inf->[1], the count $count->[1]\n"
    unless $inf->[1] == $count->[1] && $count->[1] > 0;

my $accept = status('', { Accept => 'text/plain;version=0.0.4' });
die "Accept of the text format gave:\n$accept->{content}"
    unless $accept->{content} =~ /^# TYPE async_primes_jobs_submitted_total counter$/m;
--- error_code: 200



=== TEST 4: only GET and HEAD
--- request
POST /status
--- error_code: 405



=== TEST 5: $async_primes_request_id and $async_primes_status name the record answered
--- config
    location /sumPrime {
        async_primes;
        add_header X-Id $async_primes_request_id always;
        add_header X-Status $async_primes_status always;
        add_header X-Compute $async_primes_compute_time always;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $r = post('{"a":1,"b":100}');
my ($id) = $r->{content} =~ /"requestId":"([^"]+)"/;
die "the 202 says X-Id $r->{headers}{'x-id'}, X-Status "
    . "$r->{headers}{'x-status'}\n"
    unless $r->{status} == 202 && ($r->{headers}{'x-id'} // '') eq $id
           && ($r->{headers}{'x-status'} // '') eq 'IN_PROGRESS'
           && !defined $r->{headers}{'x-compute'};
ap_poll_until($port, $id, 'FINISHED', 10);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_headers", "X-Id: $id\nX-Status: FINISHED\n!X-Compute");
--- error_code: 200



=== TEST 6: $async_primes_compute_time: a submit answered with its result; nothing for errors
--- config
    location /sumPrime {
        async_primes;
        add_header X-Id $async_primes_request_id always;
        add_header X-Status $async_primes_status always;
        add_header X-Compute $async_primes_compute_time always;
    }
--- init
package main;
my $r = ap_http('POST', "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}"
                        . "/sumPrime", '{"a":1,"b":1000000000}',
                { 'Content-Type' => 'application/json',
                  Prefer => 'wait=10' });
die "the held submit: $r->{status}, X-Status "
    . ($r->{headers}{'x-status'} // '') . ", X-Compute "
    . ($r->{headers}{'x-compute'} // '') . "\n"
    unless $r->{status} == 200
           && ($r->{headers}{'x-status'} // '') eq 'FINISHED'
           && ($r->{headers}{'x-compute'} // '') =~ /^\d+\.\d{3}$/;
--- request
POST /sumPrime
{"a":1}
--- error_code: 400
--- response_headers
!X-Id
!X-Status
!X-Compute
