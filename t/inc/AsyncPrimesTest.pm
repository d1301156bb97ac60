# Shared set-up for the ngx_async_primes test suites (t/*.t).
#
#     use FindBin ();
#     use lib "$FindBin::Bin/inc";
#     use AsyncPrimesTest;
#     use Test::Nginx::Socket 'no_plan';
#
# At compile time it picks the Test::Nginx runner: the real one (CPAN's
# Test::Nginx) when it loads from @INC, else the small compatible runner
# bundled in t/lib.  TEST_NGINX_AP_BUNDLED=1 forces the bundled one.
#
# It also exports helpers for "--- init" sections and for the test files:
#
#   ap_http($method, $url, $body, \%headers)  -> {status, reason, headers, content}
#   ap_post_job($port, $a, $b [, $path])     -> requestId (dies unless 202)
#   ap_post_settles($port, $status, $timeout_s) -> the answer with $status
#   ap_poll_until($port, $id, $status, $timeout_s[, $location]) -> the body
#   ap_redis($port, [\%opts,] @args)         -> the reply (dies on an error reply)
#   ap_start_redis($port, @redis_args) / ap_stop_redis($port)
#   ap_start_nginx($dir, $conf_text) / ap_stop_nginx($dir)
#   ap_start_instance(name => $n, ...)       -> ($dir, $port) of another NGINX
#                                               with the module, on this Redis
#   ap_nginx_master($dir) / ap_nginx_workers($dir) -> pids of an instance
#   ap_log_count($dir, $re) / ap_wait_log($dir, $re, $timeout_s)
#                                            -> lines of an instance's error log
#   ap_nginx_rss()                           -> bytes of the test NGINX's memory
#   ap_wait_gone($pid, $timeout_s)           -> 1 once the process is gone
#   ap_sanitized()                           -> true under SANITIZE=1, where
#                                               memory use says nothing
#   ap_free_port()                           -> a free TCP port on 127.0.0.1
#
# ap_start_nginx: $dir must lie outside t/servroot (both runners delete and
# recreate that directory for every block, and bail out when it holds
# anything else); the configuration must leave "daemon" on (the default).
# A "pid" directive is added when the text has none, so that the instance
# never touches the system's pid file.  ap_start_redis binds 127.0.0.1 only.
#
# ap_start_redis passes @redis_args to redis-server after its own.  When
# they hold "--requirepass PASSWORD", every later ap_redis on that port
# (ap_stop_redis's SHUTDOWN too) authenticates with it.  ap_redis options,
# sent on the same connection before the command: user and password (AUTH
# as another user), db (SELECT).
#
# Both runners compile "--- init" code in the package Test::Nginx::Util and
# "--- section eval" code in Test::Base::Filter, so the helpers are exported
# there too and can be called by their short names everywhere.
#
# Core Perl modules only.

package AsyncPrimesTest;

use strict;
use warnings;

use FindBin ();
use File::Path ();
use File::Spec ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our $UsingBundledRunner;

BEGIN {
    my $bundled = File::Spec->rel2abs("$FindBin::Bin/lib");

    my $real = 0;
    if (!$ENV{TEST_NGINX_AP_BUNDLED}) {
        my @inc = grep {
            !ref $_ && File::Spec->rel2abs($_) ne $bundled
        } @INC;

        # Load it in a child perl: a failed require here would leave a
        # half-compiled module behind, and the real module's END block must
        # not run on our behalf (_exit skips it).
        if (grep { -f "$_/Test/Nginx/Socket.pm" } @inc) {
            my $pid = fork();
            if (defined $pid && $pid == 0) {
                open STDOUT, '>', File::Spec->devnull;
                open STDERR, '>', File::Spec->devnull;
                { no warnings 'exec';
                  exec $^X, (map { "-I$_" } @inc), '-MPOSIX', '-e',
                       'require Test::Nginx::Socket; POSIX::_exit(0)'; }
                POSIX::_exit(1);
            }
            if (defined $pid) {
                waitpid($pid, 0);
                $real = $? == 0;
            }
        }
    }

    if (!$real) {
        unshift @INC, $bundled;
    }
    $UsingBundledRunner = !$real;
}

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

our @EXPORT = qw(
    ap_http ap_post_job ap_post_settles ap_poll_until
    ap_redis ap_start_redis ap_stop_redis ap_start_nginx ap_stop_nginx ap_free_port
    ap_nginx_master ap_nginx_workers ap_wait_gone ap_sanitized
    ap_start_instance ap_log_count ap_wait_log ap_nginx_rss
);

sub import {
    my $caller = caller;
    no strict 'refs';
    for my $pkg ($caller, 'Test::Nginx::Util', 'Test::Base::Filter') {
        for my $sym (@EXPORT) {
            *{"${pkg}::$sym"} = \&{"AsyncPrimesTest::$sym"}
                unless defined &{"${pkg}::$sym"};
        }
    }
}

# Daemons (nginx, redis-server) are re-parented to the nearest subreaper
# when they daemonize; where PID 1 does not reap them, a stopped daemon would
# stay a zombie that still answers "kill 0".  Being the subreaper lets this
# process reap them (both runners and the helpers below then see them gone).
BEGIN {
    require Config;
    my $arch = $Config::Config{archname} || '';
    my $nr = $arch =~ /^x86_64/ ? 157 : $arch =~ /^aarch64/ ? 167 : undef;
    if (defined $nr && $^O eq 'linux') {
        local $!;
        eval { syscall($nr, 36, 1, 0, 0, 0) };   # PR_SET_CHILD_SUBREAPER
    }
}

# ------------------------------------------------------------------------
# processes and ports

sub _alive {
    my $pid = shift;
    return 0 unless defined $pid && $pid =~ /^\d+$/ && $pid > 0;
    waitpid($pid, POSIX::WNOHANG());
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st> // '';
        return 0 if $line =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub _wait_gone {
    my ($pid, $secs) = @_;
    my $until = Time::HiRes::time() + $secs;
    while (_alive($pid)) {
        return 0 if Time::HiRes::time() > $until;
        Time::HiRes::sleep(0.05);
    }
    return 1;
}

sub _stop_pid {
    my ($pid, $first_signal) = @_;
    return unless _alive($pid);
    kill $first_signal, $pid;
    return if _wait_gone($pid, 5);
    kill 'TERM', $pid;
    return if _wait_gone($pid, 2);
    kill 'KILL', $pid;
    _wait_gone($pid, 2);
}

sub _port_open {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

sub _read_file {
    my $file = shift;
    open my $in, '<', $file or return '';
    local $/;
    return scalar <$in> // '';
}

sub _tail {
    my ($file, $n) = @_;
    my @lines = split /^/, _read_file($file);
    splice @lines, 0, @lines - $n if @lines > $n;
    return join '', @lines;
}

# runs a command with stdout and stderr sent to a file; returns its status
sub _run_logged {
    my ($log, @cmd) = @_;
    my $pid = fork();
    die "fork failed: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', File::Spec->devnull;
        open STDOUT, '>>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(127);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return $?;
}

sub ap_free_port {
    my %avoid = map { $_ => 1 } grep { defined }
        1984, $ENV{TEST_NGINX_SERVER_PORT}, $ENV{TEST_NGINX_PORT},
        $ENV{TEST_NGINX_REDIS_PORT};
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1)
            or die "ap_free_port: cannot bind: $!";
        my $port = $s->sockport;
        close $s;
        return $port unless $avoid{$port};
    }
    die "ap_free_port: no free port found";
}

# ------------------------------------------------------------------------
# HTTP

sub ap_http {
    my ($method, $url, $body, $headers) = @_;
    my %opts;
    $opts{content} = $body if defined $body;
    $opts{headers} = {%$headers} if $headers;
    my $r = HTTP::Tiny->new(timeout => 10, keep_alive => 0)
                      ->request($method, $url, \%opts);
    return {
        status  => $r->{status},
        reason  => $r->{reason},
        headers => $r->{headers},
        content => $r->{content},
    };
}

sub ap_post_job {
    my ($port, $a, $b, $path) = @_;
    $path //= '/sumPrime';
    my $r = ap_http('POST', "http://127.0.0.1:$port$path",
                    qq({"a":$a,"b":$b}),
                    { 'Content-Type' => 'application/json' });
    if ($r->{status} != 202) {
        die "ap_post_job($a, $b): expected 202, got $r->{status}: "
            . ($r->{content} // '') . "\n";
    }
    my $doc = eval { JSON::PP->new->decode($r->{content}) };
    if (!$doc || ref $doc ne 'HASH' || !defined $doc->{requestId}) {
        die "ap_post_job($a, $b): no requestId in the 202 body: "
            . ($r->{content} // '') . "\n";
    }
    return $doc->{requestId};
}

# POSTs a tiny job until the module answers $want (it settles after Redis
# goes or comes back), for at most $timeout seconds; returns that answer
sub ap_post_settles {
    my ($port, $want, $timeout) = @_;
    my $until = Time::HiRes::time() + $timeout;
    my $r;
    while (1) {
        $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                     '{"a":1,"b":100}',
                     { 'Content-Type' => 'application/json' });
        return $r if $r->{status} == $want;
        die "POST gave $r->{status}, not $want, for ${timeout}s\n"
            if Time::HiRes::time() > $until;
        Time::HiRes::sleep(0.05);
    }
}

sub ap_poll_until {
    my ($port, $id, $status, $timeout, $location) = @_;
    $timeout //= 10;
    $location //= '/sumPrime';
    my $until = Time::HiRes::time() + $timeout;
    my $last = '(no answer)';
    while (1) {
        my $r = ap_http('GET', "http://127.0.0.1:$port$location/$id");
        $last = "$r->{status} " . ($r->{content} // '');
        my $doc = eval { JSON::PP->new->decode($r->{content} // '') };
        if ($doc && ref $doc eq 'HASH' && defined $doc->{status}
            && $doc->{status} eq $status)
        {
            return $r->{content};
        }
        if (Time::HiRes::time() > $until) {
            die "ap_poll_until($id): no status $status after ${timeout}s; "
                . "last answer: $last\n";
        }
        Time::HiRes::sleep(0.05);
    }
}

# ------------------------------------------------------------------------
# Redis

sub _resp_read_line {
    my ($sock, $buf, $until) = @_;
    while ($$buf !~ /\r\n/) {
        _resp_fill($sock, $buf, $until);
    }
    $$buf =~ s/^(.*?)\r\n//s;
    return $1;
}

sub _resp_fill {
    my ($sock, $buf, $until) = @_;
    my $left = $until - Time::HiRes::time();
    die "ap_redis: timed out waiting for the reply\n" if $left <= 0;
    IO::Select->new($sock)->can_read($left)
        or die "ap_redis: timed out waiting for the reply\n";
    my $n = sysread($sock, my $chunk, 65536);
    die "ap_redis: read failed: $!\n" unless defined $n;
    die "ap_redis: connection closed by the server\n" if $n == 0;
    $$buf .= $chunk;
}

sub _resp_read {
    my ($sock, $buf, $until) = @_;
    my $line = _resp_read_line($sock, $buf, $until);
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));

    return $rest if $type eq '+';
    die "ap_redis: $rest\n" if $type eq '-';
    return $rest + 0 if $type eq ':';

    if ($type eq '$') {
        return undef if $rest < 0;
        while (length($$buf) < $rest + 2) {
            _resp_fill($sock, $buf, $until);
        }
        my $data = substr($$buf, 0, $rest);
        substr($$buf, 0, $rest + 2, '');
        return $data;
    }

    if ($type eq '*') {
        return undef if $rest < 0;
        # an error inside an array (EXEC) is kept as the message, not thrown
        my @items;
        for (1 .. $rest) {
            my $item = eval { _resp_read($sock, $buf, $until) };
            if ($@) {
                die $@ unless $@ =~ /^ap_redis: (?!timed out|read failed|connection closed)(.*)\n\z/s;
                $item = $1;
            }
            push @items, $item;
        }
        return \@items;
    }

    die "ap_redis: unexpected reply: $line\n";
}

my %RedisPassword;    # port => the password of its default user

sub _resp_command {
    my $cmd = '*' . scalar(@_) . "\r\n";
    for my $a (@_) {
        my $s = defined $a ? "$a" : '';
        utf8::encode($s) if utf8::is_utf8($s);
        $cmd .= '$' . length($s) . "\r\n$s\r\n";
    }
    return $cmd;
}

sub ap_redis {
    my ($port, @args) = @_;
    my $opts = ref $args[0] eq 'HASH' ? shift @args : {};

    my @first;
    if (defined $opts->{password}) {
        push @first, ['AUTH', grep { defined } $opts->{user},
                      $opts->{password}];
    } elsif (defined $RedisPassword{$port}) {
        push @first, ['AUTH', $RedisPassword{$port}];
    }
    push @first, ['SELECT', $opts->{db}] if defined $opts->{db};

    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                     Proto => 'tcp', Timeout => 5)
        or die "ap_redis: cannot connect to 127.0.0.1:$port: $!\n";
    binmode $sock;
    my $cmd = join '', map({ _resp_command(@$_) } @first),
                       _resp_command(@args);
    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $cmd) {
        my $n = syswrite($sock, $cmd, length($cmd) - $off, $off);
        die "ap_redis: write failed: $!\n" unless defined $n;
        $off += $n;
    }
    my $buf = '';
    my $until = Time::HiRes::time() + 5;
    _resp_read($sock, \$buf, $until) for @first;
    my $reply = _resp_read($sock, \$buf, $until);
    close $sock;
    return $reply;
}

my %Redis;    # port => { dir, pidfile }

sub ap_start_redis {
    my ($port, @redis_args) = @_;
    die "ap_start_redis: port $port is already in use\n" if _port_open($port);

    my $dir = File::Temp::tempdir("ap-redis-$port-XXXXXX", TMPDIR => 1,
                                  CLEANUP => 1);
    my $log = "$dir/redis.log";
    my $pidfile = "$dir/redis.pid";

    my $rc = _run_logged("$dir/stdout.log", 'redis-server',
                         '--port', $port, '--bind', '127.0.0.1',
                         '--save', '', '--appendonly', 'no',
                         '--daemonize', 'yes', '--pidfile', $pidfile,
                         '--dir', $dir, '--logfile', $log, @redis_args);
    die "ap_start_redis: redis-server failed (status $rc): "
        . _read_file("$dir/stdout.log") . _tail($log, 20) if $rc != 0;

    $Redis{$port} = { dir => $dir, pidfile => $pidfile };

    delete $RedisPassword{$port};
    for my $i (0 .. $#redis_args - 1) {
        $RedisPassword{$port} = $redis_args[$i + 1]
            if $redis_args[$i] eq '--requirepass';
    }

    my $until = Time::HiRes::time() + 5;
    while (1) {
        my $pong = eval { ap_redis($port, 'PING') };
        return 1 if defined $pong && $pong eq 'PONG';
        if (Time::HiRes::time() > $until) {
            ap_stop_redis($port);
            die "ap_start_redis: no PONG on port $port after 5s: "
                . _tail($log, 20);
        }
        Time::HiRes::sleep(0.05);
    }
}

sub ap_stop_redis {
    my ($port) = @_;
    my $info = delete $Redis{$port};
    my $pid = $info ? _read_file($info->{pidfile}) : '';
    chomp $pid;

    # the server closes the connection instead of answering
    eval { ap_redis($port, 'SHUTDOWN', 'NOSAVE') };

    my $until = Time::HiRes::time() + 5;
    while (_port_open($port) || ($pid ne '' && _alive($pid))) {
        if (Time::HiRes::time() > $until) {
            if ($pid ne '' && _alive($pid)) {
                _stop_pid($pid, 'TERM');
                next unless _port_open($port);
            }
            die "ap_stop_redis: port $port is still open\n";
        }
        Time::HiRes::sleep(0.05);
    }
    return 1;
}

END {
    # never leave a private redis-server behind
    for my $port (keys %Redis) {
        local $?;
        eval { ap_stop_redis($port) };
    }
}

# ------------------------------------------------------------------------
# a second NGINX

my %Nginx;    # dir => pid file

sub ap_start_nginx {
    my ($dir, $conf) = @_;
    $dir = File::Spec->rel2abs($dir);
    File::Path::make_path("$dir/conf", "$dir/logs");

    # the same load_module lines as the runners put at the top
    my @modules = map { "load_module $_;" } grep { $_ }
                  split /\s+/, $ENV{TEST_NGINX_LOAD_MODULES} // '';
    $conf = join(' ', @modules) . "\n$conf" if @modules;

    # never write the system's pid file
    $conf = "pid logs/nginx.pid;\n$conf" if $conf !~ /^\s*pid\s/m;
    my ($pidfile) = $conf =~ /^\s*pid\s+([^;\s]+)\s*;/m;
    $pidfile = "$dir/$pidfile" if $pidfile !~ m{^/};

    # a log of this start only, for the tests that read it
    unlink $pidfile, "$dir/logs/error.log";
    open my $out, '>', "$dir/conf/nginx.conf"
        or die "ap_start_nginx: cannot write $dir/conf/nginx.conf: $!";
    print $out $conf;
    close $out;

    my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $rc = _run_logged("$dir/logs/stderr.log", $bin, '-p', "$dir/",
                         '-c', 'conf/nginx.conf', '-e', "$dir/logs/error.log");
    if ($rc != 0) {
        die "ap_start_nginx: $bin failed (status $rc): "
            . _tail("$dir/logs/stderr.log", 20)
            . _tail("$dir/logs/error.log", 20);
    }

    my $until = Time::HiRes::time() + 10;
    until (-s $pidfile) {
        if (Time::HiRes::time() > $until) {
            die "ap_start_nginx: no pid file $pidfile after 10s: "
                . _tail("$dir/logs/error.log", 20);
        }
        Time::HiRes::sleep(0.02);
    }
    $Nginx{$dir} = $pidfile;
    return 1;
}

sub ap_stop_nginx {
    my ($dir) = @_;
    $dir = File::Spec->rel2abs($dir);
    my $pidfile = delete $Nginx{$dir} // "$dir/logs/nginx.pid";
    my $pid = _read_file($pidfile);
    chomp $pid;
    return 0 if $pid eq '';
    _stop_pid($pid, 'QUIT');
    die "ap_stop_nginx: process $pid did not exit\n" if _alive($pid);
    return 1;
}

# Another NGINX in t/servroot-<name>, on the suite's Redis unless redis
# says otherwise, with its error log at info: workers (1), port (a free
# one), and text for the main, http, server-list and location levels.
sub ap_start_instance {
    my (%o) = @_;
    my $dir = "$FindBin::Bin/servroot-$o{name}";
    my $port = $o{port} // ap_free_port();
    my $redis = $o{redis} // $ENV{TEST_NGINX_REDIS_PORT};
    my $workers = $o{workers} // 1;
    my ($main, $http, $servers, $location) =
        map { $o{$_} // '' } qw(main http servers location);

    ap_start_nginx($dir, <<"_EOC_");
worker_processes $workers;
error_log logs/error.log info;
events { worker_connections 256; }
$main
http {
    client_body_temp_path client_body_temp;
    async_primes_redis 127.0.0.1:$redis;
    $http
    server {
        listen 127.0.0.1:$port;
        location /sumPrime {
            async_primes;
            $location
        }
    }
    $servers
}
_EOC_

    return ($dir, $port);
}

sub ap_log_count {
    my ($dir, $re) = @_;
    open my $fh, '<', "$dir/logs/error.log" or return 0;
    return scalar grep { /$re/ } <$fh>;
}

sub ap_wait_log {
    my ($dir, $re, $timeout) = @_;
    my $until = Time::HiRes::time() + $timeout;
    until (ap_log_count($dir, $re)) {
        die "no \"$re\" in $dir/logs/error.log after ${timeout}s\n"
            if Time::HiRes::time() > $until;
        Time::HiRes::sleep(0.05);
    }
    return 1;
}

# the resident size of the NGINX the runner started (one process: its
# master_process is off)
sub ap_nginx_rss {
    my $root = $ENV{TEST_NGINX_SERVROOT} || "$FindBin::Bin/servroot";
    my $pid = _read_file("$root/logs/nginx.pid");
    chomp $pid;
    my $status = _read_file("/proc/$pid/status");
    return $1 * 1024 if $status =~ /^VmRSS:\s+(\d+) kB/m;
    die "ap_nginx_rss: no VmRSS for process '$pid'\n";
}

sub ap_nginx_master {
    my ($dir) = @_;
    $dir = File::Spec->rel2abs($dir);
    my $pid = _read_file($Nginx{$dir} // "$dir/logs/nginx.pid");
    chomp $pid;
    return $pid;
}

# the processes whose parent is the instance's master
sub ap_nginx_workers {
    my ($dir) = @_;
    my $master = ap_nginx_master($dir);
    my @workers;
    opendir(my $dh, '/proc') or return;
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        my $stat = _read_file("/proc/$pid/stat");
        push @workers, $pid if $stat =~ /^\d+ \(.*\) \S+ (\d+) /s
                               && $1 == $master;
    }
    closedir $dh;
    return sort { $a <=> $b } @workers;
}

# AddressSanitizer holds freed memory in quarantine: a process's size grows
# with every allocation, whatever the module does
sub ap_sanitized {
    return ($ENV{SANITIZE} // '') eq '1'
           || ($ENV{TEST_NGINX_BINARY} // '') =~ /sanitiz/;
}

sub ap_wait_gone {
    my ($pid, $secs) = @_;
    return _wait_gone($pid, $secs);
}

END {
    for my $dir (keys %Nginx) {
        local $?;
        eval { ap_stop_nginx($dir) };
    }
}

1;
