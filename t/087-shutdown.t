# A worker that shuts down answers every request it holds and keeps to
# worker_shutdown_timeout, whether Redis answers, is paused or is gone.
#
# Each block runs a second NGINX ("B") with worker_shutdown_timeout and
# stops it with QUIT.  Under SANITIZE=1 the blocks also fail on any report
# of AddressSanitizer from B's worker (a freed command touched by a
# request's cleanup, for one).

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET ();
use POSIX ();

repeat_each(1);
no_long_string();
no_shuffle();

# a job that computes for a few seconds
our $LongJob = '300000000000000';

# an id no suite stores a record under
our $Unknown = '00000000-0000-4000-8000-000000000087';

# B on Redis port $redis, by default with a worker_shutdown_timeout of
# 500ms; returns its directory, port and worker's pid
sub start_b {
    my ($redis, $http, $main) = @_;
    my ($dir, $port) = ap_start_instance(
        name => 'b', redis => $redis,
        main => $main // 'worker_shutdown_timeout 500ms;',
        http => $http // '');
    my $until = time + 5;
    my ($worker) = ap_nginx_workers($dir);
    until (defined $worker) {
        die "B has no worker after 5s\n" if time > $until;
        select(undef, undef, undef, 0.05);
        ($worker) = ap_nginx_workers($dir);
    }
    return ($dir, $port, $worker);
}

# a poll of B in a child process; returns its pid and the file that gets
# the status of the answer ("none" if the connection closed without one)
sub poll_in_child {
    my ($port) = @_;
    my $file = "$FindBin::Bin/servroot-b/poll.status";
    unlink $file;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $r = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$main::Unknown");
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh $r->{status} == 599 ? 'none' : $r->{status};
        close $fh;
        POSIX::_exit(0);
    }
    return ($pid, $file);
}

sub child_status {
    my ($pid, $file) = @_;
    waitpid($pid, 0);
    open my $fh, '<', $file or return 'nothing';
    my $status = <$fh>;
    return $status // 'nothing';
}

# QUIT B; dies unless it is gone within $secs
sub quit_b {
    my ($dir, $secs) = @_;
    my $master = ap_nginx_master($dir);
    kill 'QUIT', $master;
    ap_wait_gone($master, $secs)
        or die "B did not exit within ${secs}s of QUIT\n";
}

# B with a thread pool of one thread and a queue of one; returns its
# directory, port and worker's pid
sub start_b_narrow {
    my ($dir, $port) = ap_start_instance(
        name => 'b',
        main => 'thread_pool tiny threads=1 max_queue=1;',
        location => 'async_primes_thread_pool tiny;');
    my ($worker) = ap_nginx_workers($dir);
    return ($dir, $port, $worker);
}

# stops B fast (TERM) and dies unless it left $jobs jobs to the threads
# holding their parts, cleanly: no alert, no report of AddressSanitizer
sub fast_stop_leaves {
    my ($dir, $worker, $jobs) = @_;
    my $master = ap_nginx_master($dir);
    kill 'TERM', $master;
    ap_wait_gone($master, 5) or die "B did not exit within 5s of TERM\n";

    die "B did not leave its $jobs jobs to the threads\n"
        unless ap_log_count($dir,
            qr/$jobs jobs left to the threads still holding their parts/);

    # under the sanitizers the leak check at exit can outlast the second
    # the master gives a worker to stop: it is killed then, not crashed
    my $alert = ap_sanitized() ? qr/\[alert\](?!.*exited on signal 9$)/
                               : qr/\[alert\]/;
    die "B logged an alert\n" if ap_log_count($dir, $alert);

    my $asan = sanitizer_errors($worker);
    die "AddressSanitizer in B's worker:\n$asan" if $asan;
}

# what AddressSanitizer reported for a process of B, if anything
sub sanitizer_errors {
    my ($pid) = @_;
    my $text = '';
    for my $file (glob "$FindBin::Bin/../build/sanitizer.$pid") {
        open my $fh, '<', $file or next;
        local $/;
        my $report = <$fh> // '';
        $text .= $report if $report =~ /ERROR: AddressSanitizer|runtime error/;
    }
    return $text;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_

    $block->set_value("config", <<'_EOC_');
    location /sumPrime {
        async_primes;
    }
_EOC_

    $block->set_value("request", "GET /sumPrime/$main::Unknown");
    $block->set_value("error_code", 404);
});

run_tests();

__DATA__

=== TEST 1: a poll waiting for a paused Redis at worker_shutdown_timeout gets a 503, and nothing freed is touched
--- init
package main;
my $redis = ap_free_port();
ap_start_redis($redis);
my ($dir, $port, $worker) = start_b($redis, "async_primes_redis_timeout 10s;\n"
                                         . "    async_primes_lease 20s;");
my $err;
eval {
    # connected: a poll gets its 404 from Redis
    my $r = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$main::Unknown");
    die "B answered $r->{status}, not 404\n" unless $r->{status} == 404;

    ap_redis($redis, 'CLIENT', 'PAUSE', 3000, 'ALL');
    my ($pid, $file) = poll_in_child($port);
    select(undef, undef, undef, 0.3);

    quit_b($dir, 2);

    my $status = child_status($pid, $file);
    die "the waiting poll got $status, not 503\n" unless $status eq '503';
    die "B logged an alert\n" if ap_log_count($dir, qr/\[alert\]/);

    my $asan = sanitizer_errors($worker);
    die "AddressSanitizer in B's worker:\n$asan" if $asan;
};
$err = $@;
eval { ap_stop_nginx($dir) };
# CLIENT PAUSE holds the SHUTDOWN too, for what is left of its 3 s
ap_stop_redis($redis);
die $err if $err;



=== TEST 2: Redis down with a job computing: the worker keeps to worker_shutdown_timeout
--- init
package main;
my $redis = ap_free_port();
ap_start_redis($redis);
my ($dir, $port, $worker) = start_b($redis, "async_primes_lease 1s;\n"
                                         . "    async_primes_redis_timeout 500ms;");
my $err;
eval {
    ap_post_job($port, 1, $main::LongJob);
    select(undef, undef, undef, 0.3);

    ap_stop_redis($redis);
    select(undef, undef, undef, 0.3);

    quit_b($dir, 2);

    die "B did not say it left its job to others\n"
        unless ap_log_count($dir,
                   qr/1 unfinished jobs abandoned at worker_shutdown_timeout/);
    die "B logged an alert\n" if ap_log_count($dir, qr/\[alert\]/);

    my $asan = sanitizer_errors($worker);
    die "AddressSanitizer in B's worker:\n$asan" if $asan;
};
$err = $@;
eval { ap_stop_nginx($dir) };
eval { ap_stop_redis($redis) };
die $err if $err;



=== TEST 3: a poll queued behind a connect that never completes: a worker that quits waits to answer it
--- init
package main;
# a "Redis" that accepts connections and never answers
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                   Proto => 'tcp', Listen => 16)
    or die "cannot listen: $!\n";
my ($dir, $port, $worker) = start_b($silent->sockport,
                                    'async_primes_redis_timeout 2s;', '');
my $err;
eval {
    my ($pid, $file) = poll_in_child($port);
    select(undef, undef, undef, 0.3);

    quit_b($dir, 5);

    my $status = child_status($pid, $file);
    die "the queued poll got $status, not 503\n" unless $status eq '503';
    die "B did not wait for the connect to time out\n"
        unless ap_log_count($dir, qr/is unreachable: connect timed out/);
    die "B logged an alert\n" if ap_log_count($dir, qr/\[alert\]/);

    my $asan = sanitizer_errors($worker);
    die "AddressSanitizer in B's worker:\n$asan" if $asan;
};
$err = $@;
eval { ap_stop_nginx($dir) };
close $silent;
die $err if $err;



=== TEST 4: a fast stop with the thread pool's queue full: the jobs threads still hold are left to them, not freed
--- init
package main;
my ($dir, $port, $worker) = start_b_narrow();
my $err;
eval {
    # one job computing, one in the full queue
    ap_post_job($port, 1, $main::LongJob);
    select(undef, undef, undef, 0.2);
    ap_post_job($port, 2, $main::LongJob);
    select(undef, undef, undef, 0.2);

    fast_stop_leaves($dir, $worker, 2);
};
$err = $@;
eval { ap_stop_nginx($dir) };
die $err if $err;



=== TEST 5: a fast stop with tiny jobs riding on a queued task: left to the thread with it, not freed
--- init
package main;
my ($dir, $port, $worker) = start_b_narrow();
my $err;
eval {
    # one job computing, a tiny one queued and three riding on its task
    ap_post_job($port, 1, $main::LongJob);
    select(undef, undef, undef, 0.2);
    ap_post_job($port, 1, 100 + $_) for 1 .. 4;

    fast_stop_leaves($dir, $worker, 5);
};
$err = $@;
eval { ap_stop_nginx($dir) };
die $err if $err;
