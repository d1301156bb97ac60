# The client: libasyncprimes and async-primes against a real NGINX with the
# module and a real Redis.  Sums end to end; Retry-After honoured and
# backoff without it; a Redis outage and a lost answer survived with one
# job (Idempotency-Key); failover; the circuit breaker; the progress bar on
# a terminal only.
#
# The client is built by ./build.sh in build/client (TEST_AP_CLIENT_DIR
# names another build); t/client/probe.c, a driver of the shared library,
# is compiled here, with TEST_UNIT_CFLAGS (the sanitizers under SANITIZE=1).

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

use File::Temp ();
use IPC::Open2 ();
use POSIX ();

repeat_each(1);
no_long_string();
no_shuffle();

our $ClientDir = $ENV{TEST_AP_CLIENT_DIR}
                 || "$FindBin::Bin/../build/client";
our $Cli = "$ClientDir/bin/async-primes";
our $Redis = $ENV{TEST_NGINX_REDIS_PORT};
our $Tmp = File::Temp::tempdir('ap_client_XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);
our $Probe = "$Tmp/probe";

# a job that computes for about three seconds, and its sum (OEIS A046731)
our $LongJob = '300000000000000';
our $LongJobSum = '1370825181594023992349592711';

# a Redis of this suite's own, stopped and started
$ENV{TEST_NGINX_OWN_REDIS_PORT} ||= ap_free_port();

die "no $Cli: run ./build.sh first\n" unless -x $Cli;

{
    my @cmd = ($ENV{CC} || 'cc', qw(-std=gnu99 -g -Wall -Wextra -Werror),
               (split ' ', $ENV{TEST_UNIT_CFLAGS} // ''),
               "-I$ClientDir/include", '-o', $Probe,
               "$FindBin::Bin/client/probe.c", "-L$ClientDir/lib",
               '-lasyncprimes', "-Wl,-rpath,$ClientDir/lib", '-pthread');
    system(@cmd) == 0 or die "cannot build the probe: @cmd\n";
}

sub check {
    my ($ok, $what) = @_;
    die "$what\n" unless $ok;
}

# runs the command; returns (exit status, stdout, stderr)
sub run_cli {
    my (@args) = @_;
    my $env = ref $args[0] eq 'HASH' ? shift @args : {};
    my ($out, $err) = ("$Tmp/out", "$Tmp/err");
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{$_} = $env->{$_} for keys %$env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(127);
        open STDERR, '>', $err or POSIX::_exit(127);
        { no warnings 'exec'; exec { $args[0] } @args; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $? >> 8;
    return ($status, slurp($out), slurp($err));
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return scalar <$fh> // '';
}

# an NGINX of the test's own in t/servroot-client-<name>, its access log
# in a form the checks read; returns (dir, port)
sub start_instance {
    my (%o) = @_;
    my $http = $o{http} // '';

    my ($dir, $port) = ap_start_instance(
        name => "client-$o{name}", port => $o{port},
        redis => $o{redis} // $Redis, workers => $o{workers} // 2,
        main => $o{main}, servers => $o{servers},
        location => 'async_primes_max_number 18446744073709551615; '
                    . ($o{location} // ''),
        http => <<"_EOC_");
    proxy_temp_path proxy_temp;
    log_format ap '\$msec \$server_port \$request_method \$uri \$status '
                  '\$request_time ra=\$sent_http_retry_after '
                  'key=\$http_idempotency_key';
    access_log logs/access.log ap;
    $http
_EOC_

    truncate("$dir/logs/access.log", 0) if -e "$dir/logs/access.log";
    return ($dir, $port);
}

# the access log: [{start, end, port, method, uri, status, ra, key}]
sub access_log {
    my ($dir) = @_;
    my @lines;
    for (split /\n/, slurp("$dir/logs/access.log")) {
        my ($end, $port, $method, $uri, $status, $took, $ra, $key) =
            /^(\S+) (\S+) (\S+) (\S+) (\S+) (\S+) ra=(\S*) key=(\S*)$/
            or next;
        push @lines, { start => $end - $took, end => $end, port => $port,
                       method => $method, uri => $uri, status => $status,
                       ra => $ra eq '-' ? undef : $ra,
                       key => $key eq '-' ? undef : $key };
    }
    return @lines;
}

sub probe_start {
    my (@opts) = @_;
    my ($out, $in);
    my $pid = IPC::Open2::open2($out, $in, $Probe, @opts);
    return { pid => $pid, in => $in, out => $out };
}

sub probe {
    my ($p, $command) = @_;
    print { $p->{in} } "$command\n";
    $p->{in}->flush;
    my $answer = readline $p->{out};
    die "the probe died at \"$command\"\n" unless defined $answer;
    chomp $answer;
    return $answer;
}

sub probe_stop {
    my ($p) = @_;
    close $p->{in};
    close $p->{out};
    waitpid($p->{pid}, 0);
    die "the probe exited with status $?\n" if $?;
}

sub job_keys {
    my ($redis) = @_;
    my $keys = ap_redis($redis, 'KEYS', 'async_primes:job:*');
    return scalar @$keys;
}

# a worker with a pool of one thread behind a long job: a job submitted next waits, and
# its polls see it IN_PROGRESS for a few seconds
sub queue_long_job {
    my ($port) = @_;
    ap_post_job($port, 1, $LongJob);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_

    $block->set_value("config", <<'_EOC_');
    location /sumPrime {
        async_primes;
        async_primes_max_number 18446744073709551615;
    }
_EOC_

    $block->set_value("request", "GET /sumPrime/0f8fad5b-d9cb-469f-a165-70867728950e")
        unless defined $block->request;
    $block->set_value("error_code", 404) unless defined $block->error_code;
});

run_tests();

__DATA__

=== TEST 1: the command: sums, records, ids, exit codes
--- init
package main;
my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}";
my $dead = ap_free_port();
my ($rc, $out, $err);

($rc, $out, $err) = run_cli($main::Cli, 'sum', 1, 100, '--url', $url);
check($rc == 0 && $out eq "1060\n" && $err eq '',
      "sum 1 100: $rc, \"$out\", \"$err\"");

($rc, $out) = run_cli($main::Cli, 'sum', '18446744073709550616',
                      '18446744073709551615', '--url', "$url/sumPrime");
check($rc == 0 && $out eq "387381625547900573443\n",
      "a sum over 2^64: $rc, \"$out\"");

($rc, $out) = run_cli($main::Cli, '--json', 'sum', 1, 100, '--url', $url);
check($rc == 0 && $out =~ /^\{"requestId":"[0-9a-f-]{36}","status":"FINISHED","payload":"1060"\}\n\z/,
      "sum --json: $rc, \"$out\"");

($rc, $out) = run_cli({ ASYNC_PRIMES_URL => "http://127.0.0.1:$dead $url" },
                      $main::Cli, 'submit', 1, 1000);
check($rc == 0 && $out =~ /^([0-9a-f-]{36})\n\z/,
      "submit from ASYNC_PRIMES_URL: $rc, \"$out\"");
my $id = $1;
ap_poll_until($ENV{TEST_NGINX_SERVER_PORT}, $id, 'FINISHED', 10);

($rc, $out) = run_cli($main::Cli, 'status', $id, '--url', $url);
check($rc == 0
      && $out eq qq({"requestId":"$id","status":"FINISHED","payload":"76127"}\n),
      "status: $rc, \"$out\"");

my @exits = (
    [3, 'a must not be greater than b', 'sum', 5, 2],
    [3, 'is not an integer', 'sum', 'x', 2],
    [3, 'is not an integer', 'sum', 1, '18446744073709551616'],
    [2, 'usage', 'sum', 1],
    [2, 'unknown option', 'sum', 1, 2, '--fast'],
    [2, 'not an http', 'sum', 1, 2, '--url', 'ftp://x'],
    [4, 'unknown or has expired', 'status',
     '0f8fad5b-d9cb-469f-a165-70867728950e'],
    [3, 'is not a request id', 'status', '../x'],
    [6, 'Couldn', 'sum', 1, 100, '--url', "http://127.0.0.1:$dead",
     '--timeout', '1'],
    [5, 'did not end before the deadline', 'sum', 1, $main::LongJob,
     '--timeout', '1'],
);
for my $e (@exits) {
    my ($want, $message, @args) = @$e;
    push @args, '--url', $url unless grep { $_ eq '--url' } @args;
    ($rc, $out, $err) = run_cli($main::Cli, @args);
    check($rc == $want && $err =~ /\Q$message\E/,
          "async-primes @args: exit $rc, not $want; stderr: $err");
}

# the library itself, from several threads at once
my $p = probe_start('--url', $url);
my $answer = probe($p, 'sum 1 100');
check($answer eq 'OK 1060', "the library's sum: $answer");
$answer = probe($p, 'threads 8 1 2000000');
check($answer eq 'OK 142913828922', "8 threads: $answer");
$answer = probe($p, 'sum 7 3');
check($answer eq 'EBADINPUT a must not be greater than b', "bad: $answer");
probe_stop($p);



=== TEST 2: polls wait as long as Retry-After says; without it, backoff between floor and cap
--- init
package main;
my $proxy = ap_free_port();
my $module = ap_free_port();
# a server that does not hold polls: the client falls back to Retry-After
my ($dir, $port) = start_instance(
    name => 'poll', port => $module,
    workers => 1, main => 'thread_pool one threads=1 max_queue=64;',
    location => 'async_primes_thread_pool one; async_primes_wait_max 0;',
    servers => <<"_EOC_");
    server {
        listen 127.0.0.1:$proxy;
        location / {
            proxy_pass http://127.0.0.1:$module;
            proxy_hide_header Retry-After;
        }
    }
_EOC_

eval {
    # behind a long job, in a pool of one thread: seconds IN_PROGRESS
    my $t0;
    queue_long_job($port);
    my ($rc, $out, $err) = run_cli($main::Cli, 'sum', 1, 1000000000,
                                   '--url', "http://127.0.0.1:$port");
    check($rc == 0 && $out eq "24739512092254535\n",
          "the queued sum: $rc, \"$out\", \"$err\"");
    check($err eq '', "no progress bar without a terminal: \"$err\"");

    my @log = grep { $_->{port} == $port } access_log($dir);
    my @mine = grep { $_->{method} eq 'GET' || $_->{key} } @log;
    my @gets = grep { $_->{method} eq 'GET' } @mine;
    check(@gets >= 2, scalar(@gets) . " polls: the job was never seen "
                      . "IN_PROGRESS");
    for my $i (1 .. $#mine) {
        my ($prev, $this) = @mine[$i - 1, $i];
        next unless defined $prev->{ra};
        my $gap = $this->{start} - $prev->{end};
        check($gap >= $prev->{ra} - 0.01,
              sprintf("a poll %.3f s after an answer with Retry-After: "
                      . "%d", $gap, $prev->{ra}));
    }
    my $took = $gets[-1]{end} - $mine[0]{start};
    check(@gets <= $took + 1,
          scalar(@gets) . " polls in $took s, with Retry-After: 1");

    # the same through a proxy that hides Retry-After
    queue_long_job($port);
    $t0 = Time::HiRes::time();
    my $p = probe_start('--url', "http://127.0.0.1:$proxy",
                        '--floor', 100, '--cap', 400);
    my $answer = probe($p, 'sum 1 1000000000');
    probe_stop($p);
    $took = Time::HiRes::time() - $t0;
    check($answer eq 'OK 24739512092254535', "through the proxy: $answer");

    @gets = grep { $_->{port} == $proxy && $_->{method} eq 'GET' }
            access_log($dir);
    my ($post) = grep { $_->{port} == $proxy && $_->{method} eq 'POST' }
                 access_log($dir);
    my $last = $post->{end};
    for my $g (@gets) {
        my $gap = $g->{start} - $last;
        check($gap >= 0.099, sprintf("a poll %.3f s after the last answer, "
                                     . "under the floor", $gap));
        $last = $g->{end};
    }
    # at least 100 ms each, at most about 400 ms once backed off
    check(@gets >= 4 && @gets <= $took / 0.1 + 1,
          scalar(@gets) . " polls in $took s");
};
my $err = $@;
ap_stop_nginx($dir);
die $err if $err;



=== TEST 3: a progress bar on a terminal, after half a second
--- init
package main;
my ($dir, $port) = start_instance(
    name => 'bar',
    workers => 1, main => 'thread_pool one threads=1 max_queue=64;',
    location => 'async_primes_thread_pool one;');

my $output = eval {
    queue_long_job($port);
    my ($rc, $out, $err) = run_cli('script', '-qec',
        "$main::Cli sum 1 1000000000 --url http://127.0.0.1:$port", '/dev/null');
    check($rc == 0, "async-primes on a terminal: exit $rc: $out $err");
    $out;
};
my $err = $@;
ap_stop_nginx($dir);
die $err if $err;

(my $shown = $output) =~ s/\r/\\r/g;
$shown =~ s/\e/\\e/g;
check($output =~ /\r(?:\[[#.]{30}\] +\d+%|computing\.\.\.) +\d+\.\d s/,
      "no progress bar on the terminal: $shown");
check($output =~ /\r\e\[K24739512092254535\r?\n\z/,
      "the bar is not cleared before the sum: $shown");



=== TEST 4: a Redis outage during a submit: retried with one Idempotency-Key, one job
--- init
package main;
my $redis = $ENV{TEST_NGINX_OWN_REDIS_PORT};
eval { ap_stop_redis($redis) };
my ($dir, $port) = start_instance(name => 'outage', redis => $redis,
    http => 'async_primes_redis_timeout 500ms;');

my $result = eval {
    my $pid = open(my $cli, '-|', $main::Cli, 'sum', 1, 1000000, '--timeout', 30,
                   '--url', "http://127.0.0.1:$port") or die "$main::Cli: $!";

    # the outage lasts until two submits were refused
    my $until = time + 10;
    until ((grep { $_->{status} == 503 } access_log($dir)) >= 2) {
        die "no 503 within 10 s\n" if time > $until;
        Time::HiRes::sleep(0.05);
    }
    ap_start_redis($redis);

    my $out = do { local $/; <$cli> };
    close $cli;
    check($? == 0 && $out eq "37550402023\n", "after the outage: $? $out");

    my @posts = grep { $_->{method} eq 'POST' } access_log($dir);
    my %keys = map { ($_->{key} // '') => 1 } @posts;
    check(keys %keys == 1 && !$keys{''},
          "the submits carried " . join(', ', keys %keys)
          . ", not one Idempotency-Key");
    check((grep { $_->{status} == 202 } @posts) == 1,
          "not one 202 among " . join(' ', map { $_->{status} } @posts));
    check(job_keys($redis) == 1, job_keys($redis) . " jobs in Redis");
    1;
};
my $err = $@;
ap_stop_nginx($dir);
eval { ap_stop_redis($redis) };
die $err if $err;



=== TEST 5: an answer lost to a client timeout: the retried submit gets the same job
--- init
package main;
my $redis = $ENV{TEST_NGINX_OWN_REDIS_PORT};
eval { ap_stop_redis($redis) };
ap_start_redis($redis);
my ($dir, $port) = start_instance(name => 'lost', redis => $redis,
    http => 'async_primes_redis_timeout 5s;');

my $result = eval {
    ap_post_settles($port, 202, 10);
    Time::HiRes::sleep(0.3);
    ap_redis($redis, 'FLUSHALL');

    my $p = probe_start('--url', "http://127.0.0.1:$port",
                        '--request-timeout', 300, '--floor', 100,
                        '--cap', 200);

    # Redis holds the submits' script for a second: the client gives up
    # on each after 300 ms and sends it again, with the same key
    my ($pid) = ap_redis($redis, 'INFO', 'server') =~ /process_id:(\d+)/;
    kill 'STOP', $pid or die "cannot pause redis: $!\n";
    print { $p->{in} } "sum 1 1000000\n";
    $p->{in}->flush;
    Time::HiRes::sleep(1.2);
    kill 'CONT', $pid;

    my $answer = readline $p->{out};
    chomp $answer;
    probe_stop($p);
    check($answer eq 'OK 37550402023', "the sum: $answer");

    # but the one that made sure Redis was there
    my @posts = grep { $_->{method} eq 'POST' } access_log($dir);
    shift @posts;
    my %keys = map { ($_->{key} // '') => 1 } @posts;
    check(@posts >= 3 && keys %keys == 1 && !$keys{''},
          scalar(@posts) . " submits with " . scalar(keys %keys) . " keys");
    check(job_keys($redis) == 1, job_keys($redis) . " jobs in Redis, not 1");
    1;
};
my $err = $@;
ap_stop_nginx($dir);
eval { ap_stop_redis($redis) };
die $err if $err;



=== TEST 6: failover: one of two hosts is down
--- init
package main;
my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}";
my $dead = "http://127.0.0.1:" . ap_free_port();
for my $urls ([$dead, $url], [$url, $dead]) {
    for (1 .. 2) {
        my ($rc, $out, $err) = run_cli($main::Cli, 'sum', 1, 100,
                                       map { ('--url', $_) } @$urls);
        check($rc == 0 && $out eq "1060\n" && $err eq '',
              "with @$urls: $rc, \"$out\", \"$err\"");
    }
}



=== TEST 7: a host's circuit opens after consecutive failures, and closes once it answers
--- init
package main;
my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}";
my $down = ap_free_port();
my $id = '0f8fad5b-d9cb-469f-a165-70867728950e';
my $dir;

eval {
    my $p = probe_start('--url', "http://127.0.0.1:$down", '--url', $url,
                        '--threshold', 3, '--cooldown', 1000);

    # the host down is asked again once its backoff (100 ms) has passed
    my $stats;
    for (1 .. 40) {
        my $answer = probe($p, "status $id");
        check($answer =~ /^ENOTFOUND/, "a status with one host down: "
                                       . $answer);
        $stats = probe($p, 'stats 0');
        last if $stats =~ /state=open/;
        Time::HiRes::sleep(0.12);
    }
    check($stats =~ /^state=open failures=3 requests=3 opened=1$/,
          "after 3 failures: $stats");

    # open: the calls go to the other host only
    probe($p, "status $id") for 1 .. 4;
    $stats = probe($p, 'stats 0');
    check($stats =~ /^state=open .* requests=3 /, "while open: $stats");

    # the host comes back; after the cool-down one trial closes the circuit
    ($dir) = start_instance(name => 'breaker', port => $down);
    Time::HiRes::sleep(1.1);
    probe($p, "status $id") for 1 .. 4;
    $stats = probe($p, 'stats 0');
    check($stats =~ /^state=closed failures=0 requests=(\d+) opened=1$/
          && $1 > 3, "once back: $stats");
    $stats = probe($p, 'stats 1');
    check($stats =~ /^state=closed /, "the other host: $stats");
    probe_stop($p);
};
my $err = $@;
ap_stop_nginx($dir) if $dir;
die $err if $err;



=== TEST 8: a server that holds polls: one poll per job, answered when it ends; async-primes wait
--- init
package main;
my ($dir, $port) = start_instance(
    name => 'held', workers => 1,
    main => 'thread_pool one threads=1 max_queue=64;',
    location => 'async_primes_thread_pool one;');
eval {
    my $url = "http://127.0.0.1:$port";

    # behind two long jobs, far past its own estimate: one poll, held for
    # seconds until the job ends, where Retry-After would take several
    queue_long_job($port) for 1 .. 2;
    my ($rc, $out, $err) = run_cli($main::Cli, 'sum', 1, 1000000000,
                                   '--url', $url);
    check($rc == 0 && $out eq "24739512092254535\n",
          "the queued sum: $rc, \"$out\", \"$err\"");
    my @gets = grep { $_->{method} eq 'GET' } access_log($dir);
    check(@gets == 1, scalar(@gets) . " polls, not 1");
    check($gets[0]{end} - $gets[0]{start} > 1,
          sprintf("the poll was answered in %.3f s: not held",
                  $gets[0]{end} - $gets[0]{start}));

    # async-primes wait ID: the sum, or the record with --json
    my $id = ap_post_job($port, 1, 1000000000);
    ($rc, $out, $err) = run_cli($main::Cli, 'wait', $id, '--url', $url);
    check($rc == 0 && $out eq "24739512092254535\n",
          "wait ID: $rc, \"$out\", \"$err\"");
    ($rc, $out) = run_cli($main::Cli, 'wait', $id, '--json', '--url', $url);
    check($rc == 0 && $out =~ /"status":"FINISHED"/, "wait --json: \"$out\"");
    ($rc, undef, $err) = run_cli($main::Cli, 'wait',
                                 '0f8fad5b-d9cb-469f-a165-70867728950e',
                                 '--url', $url);
    check($rc == 4, "wait of an unknown job: $rc, \"$err\"");
};
my $err = $@;
ap_stop_nginx($dir);
die $err if $err;



=== TEST 9: async-primes cancel: a running job, again, one that has ended, an unknown one
--- init
package main;
my ($dir, $port) = start_instance(name => 'cancel', workers => 1);
eval {
    my $url = "http://127.0.0.1:$port";
    my $id = ap_post_job($port, 1, $main::LongJob);

    my ($rc, $out, $err) = run_cli($main::Cli, 'cancel', $id, '--url', $url);
    check($rc == 0 && $out =~ /"requestId":"\Q$id\E","status":"(IN_PROGRESS|CANCELLED)"/,
          "cancel ID: $rc, \"$out\", \"$err\"");

    ($rc, $out, $err) = run_cli($main::Cli, 'wait', $id, '--url', $url);
    check($rc == 1 && $err =~ /the job was cancelled/,
          "wait of a cancelled job: $rc, \"$out\", \"$err\"");

    ($rc, $out) = run_cli($main::Cli, 'cancel', $id, '--url', $url);
    check($rc == 0 && $out =~ /"status":"CANCELLED"/,
          "cancel ID again: $rc, \"$out\"");

    my $done = ap_post_job($port, 1, 100);
    ap_poll_until($port, $done, 'FINISHED', 10);
    ($rc, undef, $err) = run_cli($main::Cli, 'cancel', $done, '--url', $url);
    check($rc == 8 && $err =~ /the job has ended/,
          "cancel of a finished job: $rc, \"$err\"");

    ($rc) = run_cli($main::Cli, 'cancel',
                    '0f8fad5b-d9cb-469f-a165-70867728950e', '--url', $url);
    check($rc == 4, "cancel of an unknown job: $rc");
};
my $err = $@;
ap_stop_nginx($dir);
die $err if $err;
