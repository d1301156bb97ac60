#!/usr/bin/perl
#
# bench/wait.pl [--smoke]: long polls (GET <id>?wait=N), measured in one run
# and printed as ratios:
#
#   (d) wake latency: from the final write of a job (SET and PUBLISH, as a
#       worker of another NGINX sends them) to the answer of a poll waiting
#       for it on NGINX B, p50 and p99 / the round trip of a plain poll of
#       a finished job on B, p50 and p99
#   (e) 10 000 polls waiting in one worker of B: its memory per poll (RSS
#       growth / polls), and all answered once their job ends
#
# It starts a private Redis and NGINX (one worker, the module) on 127.0.0.1
# and stops them on exit.  It fails only when something cannot run or an
# answer is wrong, never for a missed target.
#
# Environment: NGINX_BINARY (/usr/sbin/nginx), MODULE (build/modules/...),
# BENCH_PORT (8094), BENCH_REDIS_PORT (6394), BENCH_WAKES (200; 20 with
# --smoke), BENCH_WAITERS (10000; 1000 with --smoke).
#
# Core Perl only.

use strict;
use warnings;

use File::Path ();
use FindBin ();
use IO::Poll qw(POLLIN);
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes qw(time sleep);

my $smoke = grep { $_ eq '--smoke' } @ARGV;
$smoke ||= ($ENV{BENCH_SMOKE} // '') eq '1';

my $root = "$FindBin::Bin/..";
my $dir = "$root/build/bench-wait";
my $nginx = $ENV{NGINX_BINARY} || '/usr/sbin/nginx';
my $module = $ENV{MODULE} || "$root/build/modules/ngx_http_async_primes_module.so";
my $port = $ENV{BENCH_PORT} || 8094;
my $redis_port = $ENV{BENCH_REDIS_PORT} || 6394;
my $wakes = $ENV{BENCH_WAKES} || ($smoke ? 20 : 200);
my $waiters = $ENV{BENCH_WAITERS} || ($smoke ? 1000 : 10000);

my $nginx_pid;

sub say_line { print @_, "\n" }

sub fail {
    print STDERR "wait.pl: error: @_\n";
    exit 1;
}

# ------------------------------------------------------------------------
# Redis, in RESP, over one connection

sub resp {
    my $cmd = '*' . scalar(@_) . "\r\n";
    $cmd .= '$' . length($_) . "\r\n$_\r\n" for @_;
    return $cmd;
}

sub redis_connect {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $redis_port, Proto => 'tcp');
    die "cannot connect to redis on $redis_port: $!\n" unless $s;
    return $s;
}

# sends the commands, reads one line of reply for each (enough here)
sub redis_do {
    my ($sock, @cmds) = @_;
    print $sock join '', map { resp(@$_) } @cmds;
    my @replies;
    for (@cmds) {
        my $line = <$sock>;
        die "redis closed the connection\n" unless defined $line;
        if ($line =~ /^\$(\d+)/) {
            read($sock, my $data, $1 + 2);
            $line = $data;
        }
        push @replies, $line;
    }
    return @replies;
}

# ------------------------------------------------------------------------
# the servers

sub start {
    File::Path::remove_tree($dir);
    File::Path::make_path("$dir/conf", "$dir/logs", "$dir/redis");

    system('redis-server', '--port', $redis_port, '--bind', '127.0.0.1',
           '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
           '--dir', "$dir/redis", '--logfile', "$dir/redis/redis.log") == 0
        or fail('redis-server did not start');

    for (1 .. 50) {
        last if eval { redis_do(redis_connect(), ['PING']); 1 };
        sleep 0.1;
    }

    my $connections = $waiters + 1000;

    open my $conf, '>', "$dir/conf/nginx.conf" or fail("nginx.conf: $!");
    print $conf <<"EOF";
load_module $module;

worker_processes 1;
worker_rlimit_nofile @{[ 2 * $connections + 100 ]};
pid logs/nginx.pid;
error_log logs/error.log notice;

events {
    worker_connections $connections;
}

http {
    access_log off;
    client_body_temp_path client_body_temp;

    async_primes_redis 127.0.0.1:$redis_port;

    server {
        listen 127.0.0.1:$port backlog=4096;

        location /sumPrime {
            async_primes;
            async_primes_wait_max 60s;
        }
    }
}
EOF
    close $conf;

    $nginx_pid = fork() // fail("fork: $!");
    if ($nginx_pid == 0) {
        { no warnings 'exec';
          exec $nginx, '-p', "$dir/", '-c', 'conf/nginx.conf', '-e',
               'logs/error.log', '-g', 'daemon off;'; }
        POSIX::_exit(127);
    }

    for (1 .. 50) {
        return if http_status("/sumPrime/00000000-0000-4000-8000-000000000000")
                  == 404;
        sleep 0.1;
    }

    fail("nginx did not start (see $dir/logs/error.log)");
}

sub stop {
    if ($nginx_pid) {
        kill 'QUIT', $nginx_pid;
        waitpid($nginx_pid, 0);
        $nginx_pid = undef;
    }
    # the server closes the connection instead of answering
    eval { redis_do(redis_connect(), ['SHUTDOWN', 'NOSAVE']) };
}

END { my $rc = $?; stop(); $? = $rc }
$SIG{INT} = $SIG{TERM} = sub { exit 130 };

sub worker_pid {
    open my $fh, '<', "$dir/logs/nginx.pid" or fail("no pid file");
    chomp(my $master = <$fh>);
    opendir my $dh, '/proc' or fail('no /proc');
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $st, '<', "/proc/$pid/stat" or next;
        my $line = <$st> // '';
        return $pid if $line =~ /^\d+ \(.*\) \S+ (\d+) /s && $1 == $master;
    }
    fail('no worker');
}

sub rss {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or fail("no /proc/$pid/status");
    while (<$fh>) {
        return $1 * 1024 if /^VmRSS:\s+(\d+) kB/;
    }
    fail("no VmRSS for $pid");
}

# ------------------------------------------------------------------------
# HTTP over raw sockets

sub request {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp');
    die "cannot connect to nginx: $!\n" unless $s;
    print $s "GET $path HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    return $s;
}

sub response {
    my ($s) = @_;
    local $/;
    my $text = <$s> // '';
    close $s;
    return $text;
}

sub http_status {
    my ($path) = @_;
    my $s = eval { request($path) } or return 0;
    my $text = response($s);
    return $text =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
}

# ------------------------------------------------------------------------
# records

my $seq = 0;

sub new_id {
    return sprintf '%08x-0000-4000-8000-%012x', $$, ++$seq;
}

sub in_progress {
    my ($id) = @_;
    my $now = int(time * 1000);
    return sprintf("ap1 bench %d 1 100 %d\n", $now + 600000, $now + 600000)
           . qq({"requestId":"$id","status":"IN_PROGRESS","payload":null}\n);
}

sub finished {
    my ($id) = @_;
    return qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n);
}

sub percentile {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p / 100 * $#v + 0.5)];
}

# ------------------------------------------------------------------------

start();

my $r = redis_connect();
my $key = 'async_primes:job:';

# (d) wake latency against a plain poll

my (@wake, @plain);

for (1 .. $wakes) {
    my $id = new_id();
    redis_do($r, ['SET', "$key$id", in_progress($id), 'EX', 120]);

    my $s = request("/sumPrime/$id?wait=30");

    # until the poll waits: its GET answered, its node in the tree
    sleep 0.02;

    my $t0 = time;
    redis_do($r, ['SET', "$key$id", finished($id), 'EX', 120],
                 ['PUBLISH', 'async_primes:done', $id]);
    my $text = response($s);
    push @wake, time - $t0;

    fail("a woken poll answered: $text")
        unless $text =~ /"status":"FINISHED"/;

    $t0 = time;
    $text = response(request("/sumPrime/$id"));
    push @plain, time - $t0;

    fail("a plain poll answered: $text")
        unless $text =~ /"status":"FINISHED"/;
}

my ($w50, $w99) = map { percentile($_, @wake) * 1000 } 50, 99;
my ($p50, $p99) = map { percentile($_, @plain) * 1000 } 50, 99;

say_line(sprintf "(d) wake: p50 %.3f ms, p99 %.3f ms over %d wakes; "
                 . "a plain poll: p50 %.3f ms, p99 %.3f ms",
                 $w50, $w99, $wakes, $p50, $p99);
say_line(sprintf "(d) wake / plain poll: p50 %.2f, p99 %.2f",
                 $w50 / $p50, $w99 / $p99);

# (e) many waiting polls in one worker

my $worker = worker_pid();
my $id = new_id();
redis_do($r, ['SET', "$key$id", in_progress($id), 'EX', 300]);

# the worker's memory with nothing waiting, after a first round of
# connections has warmed its pools
response(request("/sumPrime/$id"));
my $before = rss($worker);

my @socks;
for (1 .. $waiters) {
    push @socks, request("/sumPrime/$id?wait=60");
}

# every poll has its GET answered and waits
my $settled = rss($worker);
for (1 .. 50) {
    sleep 0.1;
    my $now = rss($worker);
    last if $now == $settled;
    $settled = $now;
}

my $each = ($settled - $before) / $waiters;

my $t0 = time;
redis_do($r, ['SET', "$key$id", finished($id), 'EX', 300],
             ['PUBLISH', 'async_primes:done', $id]);

my $poll = IO::Poll->new;
$poll->mask($_ => POLLIN) for @socks;

my ($answered, %buf) = (0);
while ($answered < $waiters) {
    fail("$answered of $waiters polls answered after 60 s")
        if time - $t0 > 60;

    $poll->poll(1) or next;

    for my $s ($poll->handles(POLLIN)) {
        my $n = sysread($s, my $chunk, 4096);
        $buf{$s} .= $chunk if $n;
        next if $n;

        fail("a poll answered: $buf{$s}")
            unless ($buf{$s} // '') =~ /"status":"FINISHED"/;
        $poll->remove($s);
        close $s;
        $answered++;
    }
}

my $all = time - $t0;

say_line(sprintf "(e) %d polls waiting in one worker: %.0f bytes each "
                 . "(RSS %.1f MB -> %.1f MB); all answered %.0f ms after "
                 . "the write", $waiters, $each, $before / 1048576,
                 $settled / 1048576, $all * 1000);
