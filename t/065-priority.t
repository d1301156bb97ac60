# async_primes_compute_priority: a pool thread computes a part of a job
# estimated at a millisecond or more at the configured priority and takes
# the worker's back after it; shorter parts run at the worker's, and the
# worker's event loop keeps its own.  Only priorities are checked, never
# times: the pool threads are read from /proc while a long job computes.

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

# a job of about a second (S(10^13) by prefix sums): long enough to lower
# its thread, and to be seen computing
our $Long = 10000000000000;

# starts an NGINX with one worker and a pool of $threads threads, runs
# $jobs jobs [1, $b] (tiny ones by default), then @then, to their end, and
# returns the worker's threads, the master's nice value, the error log and
# the [nice, policy] pairs its pool threads were seen with while the jobs
# of the last batch computed
sub run_jobs {
    my (%args) = @_;
    my $dir = "$base/" . ++$run;
    my $port = ap_free_port();
    my $threads = $args{threads} // 1;
    my @then = @{ $args{then} // [] };
    # workers of a root master run as "nobody" unless told otherwise
    my $main = ($args{user} ? "user $args{user};\n" : '') . ($args{main} // '');
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

    my ($worker, $threads_of, $master_nice, $log, %seen);
    my $ok = eval {
        $worker = ap_http('GET', "http://127.0.0.1:$port/pid")->{content};

        # the pool threads' priorities until every job of @ids has ended
        my $watch = sub {
            my @ids = @_;
            my $until = time + 60;
            while (@ids) {
                my $all = threads_of($worker);
                $seen{"@{ $all->{$_} }"} = $all->{$_}
                    for grep { $_ != $worker } keys %$all;
                @ids = grep {
                    ap_http('GET', "http://127.0.0.1:$port/sumPrime/$_")
                        ->{content} !~ /"status":"FINISHED"/
                } @ids;
                die "jobs still computing after 60s\n" if time > $until;
                select(undef, undef, undef, 0.01);
            }
        };

        my @ids = map { ap_post_job($port, 1, $args{b} // 100 + $_) }
                  1 .. $args{jobs};
        $watch->(@ids);

        if (@then) {
            $args{before_then}->(threads_of($worker));
            %seen = ();
            @ids = map { ap_post_job($port, 1, $_) } @then;
            $watch->(@ids);
        }

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

    return ($worker, $threads_of, $master_nice, $log, [values %seen]);
}

# A root worker raises a thread back with CAP_SYS_NICE; a "nobody" worker
# within the RLIMIT_NICE its master gives it, which takes CAP_SYS_RESOURCE
# (a container may not have it).
sub master_may_raise_rlimit_nice {
    open my $fh, '<', '/proc/self/status' or return 0;
    my ($caps) = map { /^CapEff:\s+([0-9a-f]+)/ ? $1 : () } <$fh>;
    return defined $caps && (hex(substr($caps, -8)) >> 24) & 1;
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

    my ($worker, $threads, $master_nice, $log, $seen) =
        run_jobs(user => 'root', http => $http, jobs => 1, b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    is(scalar @$pool, 1, "$name: the worker has one pool thread");
    ok((grep { $_->[0] == $nice } @$seen),
       "$name: it computed at nice $nice")
        or diag(join ', ', map { "@$_" } @$seen);
    is($pool->[0][0], $master_nice,
       "$name: then took the worker's nice value back");
    is($loop->[0], $master_nice, "$name: the event loop kept its nice value");
    unlike($log, qr/\[(warn|error|alert|crit)\]/, "$name: nothing logged");
}

# tiny jobs leave the thread at the worker's priority; the first long one
# lowers it
{
    my $before;
    my ($worker, $threads, $master_nice, $log, $seen) =
        run_jobs(user => 'root', jobs => 20, then => [$Long],
                 before_then => sub { $before = shift });
    my (undef, $tiny) = split_threads($worker, $before);
    my ($loop, $pool) = split_threads($worker, $threads);

    is_deeply([map { $_->[0] } @$tiny], [$master_nice],
              'tiny jobs: the pool thread kept the worker\'s nice value');
    ok((grep { $_->[0] == 19 } @$seen),
       'then a long job: it computed at nice 19');
    is($pool->[0][0], $master_nice, 'and took the worker\'s back');
    is($loop->[0], $master_nice, 'the event loop kept its nice value');
}

{
    my ($worker, $threads, $master_nice, $log, $seen) =
        run_jobs(user => 'root', http => 'async_primes_compute_priority idle;',
                 jobs => 1, b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    ok((grep { $_->[1] == 5 } @$seen),
       'idle: the pool thread computed SCHED_IDLE');
    is($pool->[0][1], 0, 'idle: then it was SCHED_OTHER again');
    is($loop->[1], 0, 'idle: the event loop is SCHED_OTHER');
    unlike($log, qr/\[(warn|error|alert|crit)\]/, 'idle: nothing logged');
}

{
    my ($worker, $threads, $master_nice, $log, $seen) =
        run_jobs(http => 'async_primes_compute_priority off;', jobs => 1,
                 b => $Long);

    is_deeply([map { "@$_" } @$seen], ["$master_nice 0"],
              'off: the pool thread computed at its nice value and policy');
}

# An unprivileged worker, given RLIMIT_NICE by its master, takes its
# priority back after a part; without it, the thread stays lowered and the
# worker says so once.
{
    my ($worker, $threads, $master_nice, $log, $seen) =
        run_jobs(threads => 2, jobs => 2, b => $Long);
    my ($loop, $pool) = split_threads($worker, $threads);

    ok((grep { $_->[0] == 19 } @$seen),
       'a "nobody" worker: its threads computed at nice 19');

    if (master_may_raise_rlimit_nice()) {
        is_deeply([map { $_->[0] } @$pool], [($master_nice) x 2],
                  'and took their nice value back');
        unlike($log, qr/\[(warn|error|alert|crit)\]/, 'nothing logged');

    } else {
        my @warned = $log =~ /\[warn\] .*could not take its priority back/g;
        is(scalar @warned, 1,
           'without CAP_SYS_RESOURCE for the master: the worker says once '
           . 'that its threads stay lowered') or diag($log);
        ok(!(grep { $_->[0] != 19 } @$pool), 'and they do');
    }
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
