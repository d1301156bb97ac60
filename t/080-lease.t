# Leases: a job whose worker dies, stops or shuts down is taken over by the
# next poll elsewhere and still ends FINISHED with the right sum; exactly
# one worker wins a takeover; a worker that lost its lease never writes.
#
# The worker that fails belongs to a second NGINX ("B") on the same Redis;
# the polls go to the test's own NGINX or to other instances.

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

# a job that computes for a few seconds, and its sum (OEIS A046731)
our $LongJob = '300000000000000';
our $LongJobSum = '1370825181594023992349592711';

our $Redis = $ENV{TEST_NGINX_REDIS_PORT};

# another NGINX, with a lease of 1s; returns its directory and port
sub start_instance {
    my ($name, $workers, $main) = @_;
    return ap_start_instance(name => $name, workers => $workers,
                             main => $main // '',
                             http => "async_primes_lease 1s;\n"
                                     . "    async_primes_redis_timeout 500ms;");
}

# the token of the worker holding a job in progress
sub owner {
    my ($id) = @_;
    my $v = ap_redis($Redis, 'GET', "async_primes:job:$id") // '';
    return $v =~ /^ap1 (\S+) / ? $1 : '';
}

sub finished {
    my ($id) = @_;
    return qq({"requestId":"$id","status":"FINISHED","payload":"$LongJobSum"}\n);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_redis_timeout 500ms;
    async_primes_lease 1s;
_EOC_

    $block->set_value("config", <<'_EOC_') unless defined $block->config;
    location /sumPrime {
        async_primes;
    }
_EOC_

    $block->set_value("request", "GET /sumPrime/placeholder")
        unless defined $block->request;
});

run_tests();

__DATA__

=== TEST 1: a worker killed while it computes: one of four racing workers takes the job over
--- init
package main;
my ($b_dir, $b) = start_instance('b', 1);
my ($c_dir, $c) = start_instance('c', 2);
my ($d_dir, $d) = start_instance('d', 2);

my $id = eval {
    my $id = ap_post_job($b, 1, $main::LongJob);
    select(undef, undef, undef, 0.3);

    my @workers = ap_nginx_workers($b_dir);
    die "no worker in B\n" unless @workers;
    kill 'KILL', @workers;
    ap_wait_gone($_, 5) or die "worker $_ survived kill -9\n" for @workers;

    # the lease runs out within a second of the last renewal
    select(undef, undef, undef, 1.2);

    # sixteen polls at once, on four workers of two instances
    my @pids;
    for my $i (1 .. 16) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            ap_http('GET', "http://127.0.0.1:" . ($i % 2 ? $c : $d)
                           . "/sumPrime/$id");
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;

    ap_poll_until($c, $id, 'FINISHED', 90);

    my $won = ap_log_count($c_dir, qr/job \Q$id\E taken over/)
              + ap_log_count($d_dir, qr/job \Q$id\E taken over/);
    die "$won workers took the job over, not 1\n" unless $won == 1;

    $id;
};
my $err = $@;
ap_stop_nginx($_) for $b_dir, $c_dir, $d_dir;
die $err if $err;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", finished($id));
--- error_code: 200
--- no_error_log
[error]



=== TEST 2: a paused worker that resumes while another holds its job stops and writes nothing
--- init
package main;
my ($b_dir, $b) = start_instance('b', 1);

my $id = eval {
    my $id = ap_post_job($b, 1, $main::LongJob);
    select(undef, undef, undef, 0.3);

    my $stale = owner($id);
    die "no owner in the record\n" unless $stale;

    my ($worker) = ap_nginx_workers($b_dir);
    kill 'STOP', $worker;

    # this NGINX takes it over on a poll once the lease has run out
    my $until = time + 10;
    while (owner($id) eq $stale) {
        die "not taken over in 10s\n" if time > $until;
        ap_http('GET', "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}"
                       . "/sumPrime/$id");
        select(undef, undef, undef, 0.1);
    }

    kill 'CONT', $worker;
    ap_wait_log($b_dir, qr/job \Q$id\E is stopped here: another worker took it over/,
             10);

    ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 90);
    $id;
};
my $err = $@;
ap_stop_nginx($b_dir);
die $err if $err;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", finished($id));
--- error_code: 200
--- error_log
taken over: the lease of the worker computing it had expired



=== TEST 3: a paused worker that resumes after its job ended elsewhere leaves the record alone
--- init
package main;
my ($b_dir, $b) = start_instance('b', 1);

my $id = eval {
    my $id = ap_post_job($b, 1, $main::LongJob);
    select(undef, undef, undef, 0.3);

    my ($worker) = ap_nginx_workers($b_dir);
    kill 'STOP', $worker;

    select(undef, undef, undef, 1.2);
    ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 90);

    # a record only this test writes: any write by B would replace it
    ap_redis($main::Redis, 'SET', "async_primes:job:$id",
             qq({"requestId":"$id","status":"FINISHED","payload":"42"}\n),
             'EX', 60);

    kill 'CONT', $worker;
    ap_wait_log($b_dir, qr/job \Q$id\E is stopped here: its record says it has ended/,
             10);
    $id;
};
my $err = $@;
ap_stop_nginx($b_dir);
die $err if $err;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"42"}\n));
--- error_code: 200



=== TEST 4: worker_shutdown_timeout bounds a graceful stop; the job cut short is taken over
--- init
package main;
my ($b_dir, $b) = start_instance('b', 1, 'worker_shutdown_timeout 500ms;');
my $id;
eval {
    # stopped gracefully with a job far from done
    $id = ap_post_job($b, 1, $main::LongJob);
    select(undef, undef, undef, 0.3);

    my $master = ap_nginx_master($b_dir);
    kill 'QUIT', $master;
    ap_wait_gone($master, 2)
        or die "B did not exit within 2s of QUIT with worker_shutdown_timeout 500ms\n";

    die "B did not say it left its job to others\n"
        unless ap_log_count($b_dir, qr/1 unfinished jobs abandoned at worker_shutdown_timeout/);

    ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 90);
};
my $err = $@;
eval { ap_stop_nginx($b_dir) };
die $err if $err;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body", finished($id));
--- error_code: 200
--- error_log
taken over: the lease of the worker computing it had expired



=== TEST 5: a result Redis refuses for longer than the lease keeps its lease, and lands once Redis takes it
--- init
package main;
ap_redis($main::Redis, 'ACL', 'SETUSER', 'ap_lease', 'reset', 'on',
         '>lease-secret', '~async_primes:job:*', '~async_primes:cancel:*',
         '~async_primes:sum:*', '&async_primes:*', qw(+get +set +del +exists +eval +evalsha
                                +script|load +time +ping +publish
                                +subscribe));
my ($b_dir, $b) = ap_start_instance(
    name => 'b',
    http => "async_primes_lease 1s;\n"
            . "    async_primes_redis_timeout 500ms;\n"
            . "    async_primes_redis_auth ap_lease lease-secret;",
    location => 'async_primes_reuse on;');

my $id = eval {
    # a range whose sum no earlier run has kept, computed for seconds
    my $id = ap_post_job($b, 1 + int(rand(1000)), $main::LongJob);

    # B may still renew the job's lease, but not keep its sum: the final
    # write is refused
    ap_redis($main::Redis, 'ACL', 'SETUSER', 'ap_lease', 'resetkeys',
             '~async_primes:job:*', '~async_primes:cancel:*');
    ap_wait_log($b_dir, qr/redis refused the result of job \Q$id\E/, 60);

    # three leases long, polled here: an expired lease would be taken over
    my $until = time + 3;
    while (time < $until) {
        ap_http('GET', "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}"
                       . "/sumPrime/$id");
        select(undef, undef, undef, 0.1);
    }

    ap_redis($main::Redis, 'ACL', 'SETUSER', 'ap_lease',
             '~async_primes:sum:*');
    ap_poll_until($b, $id, 'FINISHED', 10);

    die "B dropped its result\n"
        if ap_log_count($b_dir, qr/result of job \Q$id\E is dropped/);
    $id;
};
my $err = $@;
ap_stop_nginx($b_dir);
ap_redis($main::Redis, 'ACL', 'DELUSER', 'ap_lease');
die $err if $err;

$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"\d+"\}$
--- no_error_log
taken over
[error]



=== TEST 6: a host whose clock is ahead of Redis's tries a takeover of a held lease once, not at every poll
--- skip_eval: 2: AsyncPrimesTest::ap_sanitized()
--- init
package main;
# libfaketime under AddressSanitizer hangs NGINX at its start
return if ap_sanitized();
# B's clock is a minute ahead of Redis's: every lease looks expired there
my $faketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
die "no $faketime: build.sh installs faketime\n" unless -f $faketime;
my ($b_dir, $b);
{
    local $ENV{LD_PRELOAD} = join ' ', grep { $_ } $faketime,
                                                   $ENV{LD_PRELOAD};
    local $ENV{FAKETIME} = '+60s';
    local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
    ($b_dir, $b) = start_instance('b', 1);
}

my $id = '6b3f0c1e-8d2a-4b7c-9e5f-0a1b2c3d4e5f';
my $err;
eval {
    # a job held for a minute by Redis's clock, by a worker elsewhere
    my $now = int(Time::HiRes::time() * 1000);
    ap_redis($main::Redis, 'SET', "async_primes:job:$id",
             sprintf("ap1 elsewhere %d 1 1000 %d\n", $now + 60000, $now)
             . qq({"requestId":"$id","status":"IN_PROGRESS","payload":null}\n),
             'EX', 60);
    ap_redis($main::Redis, 'CONFIG', 'RESETSTAT');

    for (1 .. 10) {
        my $r = ap_http('GET', "http://127.0.0.1:$b/sumPrime/$id");
        die "a poll gave $r->{status}\n" unless $r->{status} == 200;
        select(undef, undef, undef, 0.05);
    }

    my $stats = ap_redis($main::Redis, 'INFO', 'commandstats');
    my $scripts = 0;
    $scripts += $1 while $stats =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    die "10 polls ran $scripts takeover scripts, not 1\n"
        unless $scripts == 1;
    die "B took over a job held by another worker\n"
        if owner($id) ne 'elsewhere';
};
$err = $@;
ap_stop_nginx($b_dir);
ap_redis($main::Redis, 'DEL', "async_primes:job:$id");
die $err if $err;
--- error_code: 404
--- no_error_log
[error]



=== TEST 7: a job taken over on a location that reuses results keeps its sum for the next submit
--- config
    location /sumPrime {
        async_primes;
        async_primes_reuse on;
    }
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = '7c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5';
# a range whose sum no earlier run has kept, of a worker gone a second ago
my $b = 200000 + int(rand(1000000));
my $now = int(Time::HiRes::time() * 1000);
ap_redis($main::Redis, 'DEL', "async_primes:sum:1:$b");
ap_redis($main::Redis, 'SET', "async_primes:job:$id",
         sprintf("ap1 gone %d 1 %d %d\n", $now - 1000, $b, $now)
         . qq({"requestId":"$id","status":"IN_PROGRESS","payload":null}\n),
         'EX', 60);
my $doc = ap_poll_until($port, $id, 'FINISHED', 10);
my ($sum) = $doc =~ /"payload":"(\d+)"/;
my $kept = ap_redis($main::Redis, 'GET', "async_primes:sum:1:$b") // 'nothing';
die "the takeover kept $kept, not the sum $sum\n" unless $kept eq $sum;
$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "status":"FINISHED"
--- error_log
taken over: the lease of the worker computing it had expired
