# async_primes_compute_priority: a pool thread that computed a part of a
# job estimated at a millisecond or more runs at the configured priority,
# one that computed only shorter parts keeps the worker's, and the worker's
# event loop keeps its own.  Only priorities are checked, never times.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use File::Temp qw(tempdir);
use Test::More;

plan skip_all => 'thread priorities are read from Linux /proc'
    unless $^O eq 'linux' && -r "/proc/$$/task/$$/stat";

my $base = tempdir('ap-priority-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $run = 0;

# "nice policy" of every thread of a process: { tid => [nice, policy] }
sub threads_of {
    my $pid = shift;
    my %threads;

    for my $stat (glob "/proc/$pid/task/*/stat") {
        my ($tid) = $stat =~ m{/task/(\d+)/stat$};
        open my $fh, '<', $stat or next;
        my $line = <$fh>;
        close $fh;

        # fields from the 3rd on follow the command name, in parentheses:
        # nice is the 19th, policy the 41st
        $line =~ s/^.*\) //s;
        my @f = split ' ', $line;
        $threads{$tid} = [$f[16], $f[38]];
    }

    return \%threads;
}

# a job the engine estimates at a few milliseconds (S(10^9) by prefix sums):
# long enough to lower its thread
our $Long = 1000000000;

# starts an NGINX with one worker and a pool of $threads threads, runs
# $jobs jobs [1, $b] (tiny ones by default), then @then, to their end, and
# returns the worker's threads, the master's nice value and the error log
sub run_jobs {
    my (%args) = @_;
    my $dir = "$base/" . ++$run;
    my $port = ap_free_port();
    my $threads = $args{threads} // 1;
    my @then = @{ $args{then} // [] };
    my $main = $args{main} // '';
    my $http = $args{http} // '';

    ap_start_nginx($dir, <<"_EOC_");
worker_processes 1;
$main
error_log logs/error.log info;
pid logs/nginx.pid;
thread_pool primes threads=$threads;
events { worker_connections 64; }
http {
    client_body_temp_path client_body_temp;
    async_primes_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    $http
    server {
        listen 127.0.0.1:$port;
        location /sumPrime {
            async_primes;
            async_primes_thread_pool primes;
        }
        location = /pid {
            return 200 \$pid;
        }
    }
}
_EOC_

    my ($worker, $threads_of, $master_nice, $log);
    my $ok = eval {
        my @ids = map { ap_post_job($port, 1, $args{b} // 100 + $_) }
                  1 .. $args{jobs};
        ap_poll_until($port, $_, 'FINISHED', 10) for @ids;

        if (@then) {
            $args{before_then}->(threads_of(
                ap_http('GET', "http://127.0.0.1:$port/pid")->{content}));
            @ids = map { ap_post_job($port, 1, $_) } @then;
            ap_poll_until($port, $_, 'FINISHED', 10) for @ids;
        }

        $worker = ap_http('GET', "http://127.0.0.1:$port/pid")->{content};
        $threads_of = threads_of($worker);

        open my $fh, '<', "$dir/logs/nginx.pid" or die "no pid file: $!";
        chomp(my $master = <$fh>);
        $master_nice = threads_of($master)->{$master}[0];
        1;
    };
    my $err = $@;
    ap_stop_nginx($dir);
    die $err unless $ok;

    open my $fh, '<', "$dir/logs/error.log" or die $!;
    $log = do { local $/; <$fh> };

    return ($worker, $threads_of, $master_nice, $log);
}

# the event loop, and the threads other than it
sub split_threads {
    my ($worker, $threads) = @_;
    my @pool = map { $threads->{$_} } grep { $_ != $worker } keys %$threads;
    return ($threads->{$worker}, \@pool);
}


for my $case ([10, '10'], [19, '19'], [19, undef]) {
    my ($nice, $value) = @$case;
    my $name = defined $value ? "async_primes_compute_priority $value"
                              : 'the default';
    my $http = defined $value ? "$name;" : '';

    my ($worker, $threads, $master_nice, $log) =
        run_jobs(http => $http, jobs => 1, b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    is(scalar @$pool, 1, "$name: the worker has one pool thread");
    is($pool->[0][0], $nice, "$name: it computed at nice $nice");
    is($loop->[0], $master_nice, "$name: the event loop kept its nice value");
    unlike($log, qr/\[(warn|error|alert|crit)\]/, "$name: nothing logged");
}

# tiny jobs leave the thread at the worker's priority; the first long one
# lowers it
{
    my $before;
    my ($worker, $threads, $master_nice, $log) =
        run_jobs(jobs => 20, then => [$Long],
                 before_then => sub { $before = shift });
    my (undef, $tiny) = split_threads($worker, $before);
    my ($loop, $pool) = split_threads($worker, $threads);

    is_deeply([map { $_->[0] } @$tiny], [$master_nice],
              'tiny jobs: the pool thread kept the worker\'s nice value');
    is($pool->[0][0], 19, 'then a long job: it computed at nice 19');
    is($loop->[0], $master_nice, 'the event loop kept its nice value');
}

{
    my ($worker, $threads, $master_nice, $log) =
        run_jobs(http => 'async_primes_compute_priority idle;', jobs => 1,
                 b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    is($pool->[0][1], 5, 'idle: the pool thread is SCHED_IDLE');
    is($loop->[1], 0, 'idle: the event loop is SCHED_OTHER');
    unlike($log, qr/\[(warn|error|alert|crit)\]/, 'idle: nothing logged');
}

{
    my ($worker, $threads, $master_nice, $log) =
        run_jobs(http => 'async_primes_compute_priority off;', jobs => 1,
                 b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    is($pool->[0][0], $master_nice, 'off: the pool thread kept its nice value');
    is($pool->[0][1], 0, 'off: and its policy');
}

# A worker at nice 5 cannot lower a thread to 2 without CAP_SYS_NICE or
# RLIMIT_NICE, which a worker does not have (workers of a root master run
# as "nobody"): each thread that tries fails, the log says it once.
SKIP: {
    my $rlimit = '';
    if (open my $fh, '<', '/proc/self/limits') {
        ($rlimit) = map { /^Max nice priority\s+(\S+)/ ? $1 : () } <$fh>;
    }
    skip 'RLIMIT_NICE lets workers lower their nice value', 3
        if ($rlimit // '') ne '0';

    my ($worker, $threads, $master_nice, $log) =
        run_jobs(main => 'worker_priority 5;',
                 http => 'async_primes_compute_priority 2;',
                 threads => 2, jobs => 8, b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    is($loop->[0], 5, 'a worker at nice 5');
    my @failed = $log =~ /\[warn\] .*async_primes: setpriority\(2\) failed/g;
    is(scalar @failed, 1, 'a thread that cannot be lowered is logged once')
        or diag($log);
    is_deeply([map { $_->[0] } @$pool], [5, 5],
              'and the threads compute at the worker\'s nice value');
}

done_testing();
