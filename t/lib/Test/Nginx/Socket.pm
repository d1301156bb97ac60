# A small stand-in for CPAN's Test::Nginx::Socket, used by the test suites
# only when the real module cannot be loaded (see t/inc/AsyncPrimesTest.pm).
#
# It reads the same Test::Base-style data (=== blocks, --- sections), starts
# NGINX once per block with an nginx.conf laid out like the real one's, sends
# the requests and judges each section the way the real runner does, with
# the same number of TAP tests per check, so that a suite planned for one
# runner passes, fails and counts identically under the other.
#
# Pure core Perl: no CPAN module is needed.
#
# The engine lives in the package Test::Nginx::Util, as in the real
# distribution: "--- init" code is compiled there, so the names it can see
# ($block, $ServerPort, $ServRoot, $ErrLogFile, ...) are the same with both
# runners.

package Test::Nginx::Util;

use strict;
use warnings;

use Test::More ();
use Carp ();
use Cwd ();
use File::Spec ();
use File::Path ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util ();
use POSIX ();
use Time::HiRes ();

our $VERSION = '0.33';

sub bail_out (@);
sub timeout (@);
sub is_running ($);
sub kill_process ($$$);
sub expand_env_in_text ($$$);
sub get_pid_from_pidfile ($);
sub error_log_data ();
sub access_log_data ();
sub run_test ($);
sub cleanup ();
sub check_shutdown_error_log ($$);
sub parse_time ($);
sub send_request ($$$$;$);
sub trim ($);
sub fmt_str ($);

# ------------------------------------------------------------------------
# settings (the environment variables and defaults of the real runner)

our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers              = 1;
our $WorkerConnections    = 64;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled        = 'on';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                            || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $NoRootLocation       = 0;
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $ForceRestartOnTest   = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                            ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort            = $ENV{TEST_NGINX_REUSE_PORT};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $UseHup               = 0;    # accepted, never used: see use_hup()
our $RepeatEach           = 1;
our $NoLongString;
our $ConfigPreamble       = '';
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;
our @ResponseBodyChecks;
our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion);
our ($PrevConfig, $PrevBlock, $RandPorts);
our $ErrLogFilePos = 0;
our $FirstTime = 1;
our $TotalConnectingTimeouts = 0;
our $InSubprocess;
our $ChildPid;

if (defined $WorkerUser && $WorkerUser !~ /^\w[-\w]+(?:\s+\w[-\w]+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

for my $v (qw(TEST_NGINX_USE_HUP TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3
              TEST_NGINX_CHECK_LEAK TEST_NGINX_BENCHMARK TEST_NGINX_USE_STAP
              TEST_NGINX_USE_VALGRIND TEST_NGINX_USE_RR))
{
    if ($ENV{$v}) {
        warn "WARNING: $v is not supported by the bundled Test::Nginx "
             . "runner; ignored\n";
    }
}

srand $$;

if ($Randomize) {
    $ServerPort = gen_rand_port(1000, {});
    if (!defined $ServerPort) {
        die "Cannot find an available listening port number.\n";
    }
    $ServerPortForClient = $ServerPort;
}

our $ServRoot = $Randomize
    ? File::Spec->rel2abs("t/servroot_$ServerPort")
    : ($ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot'));
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $CacheDir   = File::Spec->catfile($ServRoot, 'cache');

become_subreaper();

# ------------------------------------------------------------------------
# processes

# Daemonized NGINX and Redis processes are re-parented to the nearest
# "subreaper".  Where PID 1 does not reap orphans (some VM init processes
# do not), an exited daemon stays a zombie that "kill 0" still reports as
# alive; making the test process the subreaper lets it reap them.
sub become_subreaper {
    require Config;
    my $arch = $Config::Config{archname} || '';
    my $nr = $arch =~ /^x86_64/ ? 157 : $arch =~ /^aarch64/ ? 167 : undef;
    return unless defined $nr && $^O eq 'linux';
    local $!;
    eval { syscall($nr, 36, 1, 0, 0, 0) };    # PR_SET_CHILD_SUBREAPER
}

sub is_running ($) {
    my $pid = shift;
    return 0 unless defined $pid && $pid =~ /^\d+$/ && $pid > 0;
    waitpid($pid, POSIX::WNOHANG());
    return 0 unless kill 0, $pid;
    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st> // '';
        close $st;
        return 0 if $line =~ /^\d+ \(.*\) Z/s;
    }
    return 1;
}

sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;

    if ($wait) {
        kill($ENV{TEST_NGINX_FAST_SHUTDOWN} ? POSIX::SIGTERM()
                                            : POSIX::SIGQUIT(), $pid);

        my $left = timeout();
        while ($left > 0 && is_running($pid)) {
            Time::HiRes::sleep(0.05);
            $left -= 0.05;
        }

        if (is_running($pid)) {
            warn "$name - timeout when waiting for the process $pid to exit";
            kill(POSIX::SIGKILL(), $pid);
            Time::HiRes::sleep(0.05);
        }
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        return if !is_running($pid);
        kill(POSIX::SIGTERM(), $pid);
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        Time::HiRes::sleep($step);
    }

    return if !is_running($pid);
    warn "$name - WARNING: killing the child process $pid with force...";
    kill(POSIX::SIGKILL(), $pid);
    Time::HiRes::sleep(0.05);
    waitpid($pid, POSIX::WNOHANG());
}

sub gen_rand_port {
    my ($tries, $used) = @_;
    for (1 .. ($tries || 1000)) {
        my $port = int(rand 63547) + 1988;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port, Proto => 'tcp',
                                         Listen => 5, ReuseAddr => 1);
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

sub can_run ($) {
    my $cmd = shift;
    if ($cmd =~ m{/}) {
        return -f $cmd && -x _ ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x _;
    }
    return undef;
}

sub get_pid_from_pidfile ($) {
    my $name = shift;
    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile for reading: $!");
    my $pid = do { local $/; <$in> } // '';
    close $in;
    chomp $pid;
    return $pid;
}

# ------------------------------------------------------------------------
# the public API (exported by Test::Nginx::Socket)

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

sub env_to_nginx (@) {
    Carp::croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            Carp::croak("env_to_nginx: bad argument value: $v\n");
        }
        push @EnvToNginx, $v;
    }
}

sub _getset {
    my ($ref, @args) = @_;
    $$ref = $args[0] if @args;
    return $$ref;
}

sub repeat_each (@)          { _getset(\$RepeatEach, @_) }
sub workers (@)              { _getset(\$Workers, @_) }
sub worker_connections (@)   { _getset(\$WorkerConnections, @_) }
sub log_level (@)            { _getset(\$LogLevel, @_) }
sub server_port (@)          { _getset(\$ServerPort, @_) }
sub server_port_for_client (@) { _getset(\$ServerPortForClient, @_) }
sub server_addr (@)          { _getset(\$ServerAddr, @_) }
sub server_name (@)          { _getset(\$ServerName, @_) }
sub timeout (@)              { _getset(\$Timeout, @_) }
sub no_shuffle ()            { $NoShuffle = 1 }
sub no_root_location ()      { $NoRootLocation = 1 }
sub no_long_string ()        { $NoLongString = 1 }
sub no_nginx_manager ()      { $NoNginxManager = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()             { $MasterProcessEnabled = 'on' }
sub master_off ()            { $MasterProcessEnabled = 'off' }
sub config_preamble ($)      { $ConfigPreamble = shift }
sub html_dir ()              { $HtmlDir }
sub server_root ()           { $ServRoot }
sub sleep_time               { $TestNginxSleep }
sub verbose                  { $Verbose }

# The real runner then reloads NGINX with HUP between blocks instead of
# restarting it; this one always restarts, which judges blocks the same.
sub use_hup () { }

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    } else {
        return $MasterProcessEnabled;
    }
}

sub add_block_preprocessor (&)  { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)     { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    return Test::More::is($got, $expected, $desc);
}

sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub cleanup () {
    $_->() for @CleanupHandlers;
    if (defined $ChildPid) {
        kill_process($ChildPid, 1, 'cleanup');
        undef $ChildPid;
    }
}

# $TEST_NGINX_FOO is replaced by the environment variable (a missing one
# bails out), $TEST_NGINX_RAND_PORT_N by a free port chosen once per block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef if !defined $text;

    my %used = ($ServerPort => 1, map { $_ => 1 } values %$rand_ports);

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $out;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $port = gen_rand_port(1000, \%used);
                defined $port or bail_out("$name - Cannot find an available "
                                          . "listening port number for $var.\n");
                $rand_ports->{$var} = $port;
                $used{$port} = 1;
            }
            $out = $rand_ports->{$var};
        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $out = $ENV{$var};
        }
        $out;
    }ge;

    return $text;
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        bail_out("Failed to get the version of the Nginx in PATH: "
                 . ($out // ''));
    }
    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)}s) {
        $OpenSSLVersion = sprintf "%d.%03d%03d", $1, $2, $3;
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return sprintf "%d.%03d%03d", $1, $2, $3;
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# ------------------------------------------------------------------------
# running the blocks

sub run_tests () {
    srand($$ + Time::HiRes::time() * 1000000);
    $NginxVersion = get_nginx_version();

    if (!defined $ENV{TEST_NGINX_SERVER_PORT}) {
        $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    }

    my @blocks = &Test::Nginx::Socket::blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value('name', $0 . ' ' . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
        $PrevBlock = $block;
    }

    cleanup();
}

sub setup_server_root () {
    if (-d $ServRoot) {
        # never remove anything but what this runner creates there
        File::Path::remove_tree($ConfDir, glob("$ServRoot/*_cache"),
                                glob("$ServRoot/*_temp"), $CacheDir,
                                $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to do mkdir $dir\n");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body //= '';
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            File::Path::make_path($1) unless -d $1;
        }
        $body = expand_env_in_text($body, $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            system("TZ=GMT touch -t '$date' '$path'") == 0
                or bail_out("Failed to set the date of $path\n");
        }
    }
}

my $NginxV;

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config = expand_env_in_text($block->http_config, $name,
                                         $rand_ports) // '';

    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ }
                      split /\s+/, $LoadModules;
        $main_config = join ' ', @modules, $main_config if @modules;
    }
    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    my $post_main_config = expand_env_in_text($block->post_main_config,
                                              $name, $rand_ports) // '';

    my $err_log_file = $block->error_log_file || $ErrLogFile;
    $err_log_file = expand_env_in_text($err_log_file, $name, $rand_ports);

    my $server_name = $block->server_name // $ServerName;

    $NginxV //= `$NginxBinary -V 2>&1` // '';
    my %temp;
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        $temp{$t} = "${t}_temp_path $ServRoot/${t}_temp;";
    }
    for my $t (qw(fastcgi scgi uwsgi)) {
        $temp{$t} = '' if $NginxV =~ /--without-http_${t}_module/;
    }
    $temp{proxy} = '' if $http_config =~ /\bproxy_temp_path\b/;
    $temp{client_body} = '' if $http_config =~ /\bclient_body_temp_path\b/;

    my $env = join '', map { my $v = $_; $v = "'$v'" if $v =~ /\s/;
                             "env $v;\n" } @EnvToNginx;

    my $listen_opts = $ReusePort ? ' reuseport' : '';

    my $root_location = $NoRootLocation ? '' : <<"EOC";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
EOC

    my $use_event = $EventType ? "    use $EventType;\n" : '';

    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0            ? "user root;\n"
             : '';

    # laid out line for line as the real runner's, so that the line numbers
    # NGINX cites in its messages are the same
    my $conf = <<"EOC";
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
${env}#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile; $temp{client_body} $temp{proxy} $temp{fastcgi} $temp{scgi} $temp{uwsgi}
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort$listen_opts;
        #placeholder
        server_name     '$server_name';
        
        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
${use_event}}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
EOC
    $conf .= $user;

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out $conf;
    close $out;
}

sub check_if_missing_directives () {
    open my $in, '<', $ErrLogFile or return 0;
    while (<$in>) {
        return $1 if /\[emerg\] \S+?: unknown directive "([^"]+)"/;
    }
    return 0;
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block;
    if (defined $block->shutdown_error_log
        || defined $block->no_shutdown_error_log)
    {
        check_shutdown_error_log($block, $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0);
    }
}

# the skip and todo sections: "N: ..." where N is the number of tests
sub _skip_spec {
    my ($block, $name) = @_;
    my ($tests, $skip, $reason);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($tests, $reason) = ($1, 'skip_eval');
            my $code = $2;
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                      (?:\s*:\s*(.*))?\s*$/x)
        {
            $tests = $1;
            my ($op, $ver) = ($2, sprintf("%d.%03d%03d", $3, $4, $5));
            $reason = $6 || "nginx version $op $3.$4.$5";
            $skip = 1 if eval "$NginxVersion $op $ver";
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $spec");
        }
    }

    my ($todo, $todo_reason);
    if (defined(my $spec = $block->todo)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            ($todo, $tests, $todo_reason) = (1, $1, $2);
        } else {
            bail_out("$name - Invalid --- todo spec: $spec");
        }
    }

    return ($tests, $skip, $reason // 'various reasons', $todo,
            $todo_reason // 'various reasons');
}

sub _start_nginx {
    my ($block, $name, $config, $rand_ports, $must_die) = @_;

    if (-f $PidFile) {
        my $pid = get_pid_from_pidfile($name);
        if ($pid ne '' && is_running($pid)) {
            kill_process($pid, 1, $name);
        } else {
            unlink $PidFile;
        }
    }

    check_prev_block_shutdown_error_log();

    setup_server_root();

    if (defined(my $code = $block->post_setup_server_root)) {
        eval $code;
        bail_out("$name - post_setup_server_root failed: $@") if $@;
    }

    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    can_run($NginxBinary)
        or bail_out("$name - Cannot find the nginx executable in the PATH "
                    . "environment");

    my $cmd = "$NginxBinary -e $ServRoot/logs/error.log -p $ServRoot/ "
              . "-c $ConfFile > /dev/null";
    $cmd .= ' 2> /dev/null' if defined $block->suppress_stderr;

    $ErrLogFilePos = 0;

    my $waited = 0;
    my $try = 0;

    while (1) {
        system($cmd);
        my $status = $?;
        my ($exec_failed, $exit_code, $core) = (0, 0, 0);
        if ($status == -1) {
            $exec_failed = 1;
        } else {
            $exit_code = $status >> 8;
            $core = $status & 128;
        }

        if (defined $must_die) {
            if ($exec_failed) {
                Test::More::fail("$name - failed to execute the nginx "
                                 . "command line");
            } elsif ($core) {
                Test::More::fail("$name - nginx core dumped");
            } elsif ($must_die =~ /^\s*-?\d+(?:\.\d*)?\s*$/) {
                Test::More::is($must_die, $exit_code,
                               "$name - die with the expected exit code");
            } else {
                Test::More::isnt($status, 0, "$name - die as expected");
            }

            check_error_log($block, undef, 0, $try, 0);

            if ($status == 0) {
                warn "WARNING: $name - nginx must die but it does not; "
                     . "killing it (req $try)";
                for (1 .. 15) {
                    last if -f $PidFile;
                    Time::HiRes::sleep($TestNginxSleep);
                }
                kill_process(get_pid_from_pidfile($name), 1, $name);
            }

            next if ++$try < $RepeatEach;
            return 'died';
        }

        last if $status == 0;

        if ($ENV{TEST_NGINX_IGNORE_MISSING_DIRECTIVES}
            and my $directive = check_if_missing_directives())
        {
            return "the lack of directive $directive";
        }

        $try++;
        my $delay = 0.1 * $try;
        $delay = 1 if $delay > 1;
        Time::HiRes::sleep($delay);
        $waited += $delay;
        next if $waited < 30;
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).");
    }

    Time::HiRes::sleep($TestNginxSleep);
    return 0;
}

sub run_test ($) {
    my $block = shift;
    my $name = $block->name;

    undef $FirstTime;

    my $rand_ports = {};
    $RandPorts = $rand_ports;

    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $LogLevel;
    $LogLevel = $block->log_level if $block->log_level;

    my $must_die = $block->must_die;
    my $dry_run = 0;
    my $should_restart = 1;

    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        $should_restart = 0;
    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
        $should_restart = 0;
    }

    my ($tests_to_skip, $should_skip, $skip_reason, $should_todo,
        $todo_reason) = _skip_spec($block, $name);

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = $config;
        my $rc = _start_nginx($block, $name, $config, $rand_ports, $must_die);
        return if $rc && $rc eq 'died';
        $dry_run = $rc if $rc;
    }

    if (my $init = $block->init) {
        eval $init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;

    for my $i (1 .. $RepeatEach) {
        write_user_files($block, $rand_ports) if $i > 1;

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }

        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }

        } else {
            run_test_helper($block, $dry_run, $i - 1);
        }
    }

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            if (open my $out, '>>', $total) {
                print $out "\n=== $0 $name\n";
                if (open my $in, '<', $ErrLogFile) {
                    local $/;
                    print $out scalar <$in>;
                }
                close $out;
            }
        }
    }
}

END {
    if (!$InSubprocess) {
        my $exit = $?;
        cleanup();
        if (!$ENV{TEST_NGINX_NO_CLEAN} && defined $PidFile && -f $PidFile) {
            my $pid = get_pid_from_pidfile('');
            if ($pid ne '' && is_running($pid)) {
                kill_process($pid, 1, 'END');
            } else {
                unlink $PidFile;
            }
        }
        check_prev_block_shutdown_error_log();
        if ($Randomize && -d $ServRoot && $ServRoot =~ m{/t/servroot_\d+$}) {
            File::Path::remove_tree($ServRoot);
        }
        $? = $exit;
    }
}

# ------------------------------------------------------------------------
# building the requests

# "METHOD [URL [VERSION]]" on the first line, the body after it
sub _parse_request_text {
    my ($name, $text) = @_;
    $text //= '';
    my ($first, $content) = $text =~ /\A([^\n]*\n?)(.*)\z/s;
    if ($first eq '') {
        bail_out("$name - Request line should be non-empty");
    }
    $first =~ /^(\s*)(\S+)( *)((\S+)( *))?((\S+)( *))?(\s*)$/
        or bail_out("$name - Request line is not valid. Should be 'meth "
                    . "[url [version]]' but got \"$first\".");

    return {
        method   => $2,
        url      => defined $5 ? $5 : '/',
        version  => defined $8 ? $8 : 'HTTP/1.1',
        # lengths of the pieces of the original line, in order
        line     => [length($1), length($2), length($3),
                     defined $5 ? length($5) : 0, defined $6 ? length($6) : 0,
                     defined $8 ? length($8) : 0,
                     (defined $9 ? length($9) : 0) + length($10)],
        content  => $content,
    };
}

# Headers are added to a request as the real runner adds them; a request
# given as several packets keeps its packet boundaries (each edit lands in
# the packet where it begins, as there).
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $packets) = @_;

    my $req = _parse_request_text($name, join '', map { $_ // '' } @$packets);

    my $content = $req->{content};
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = 'Content-Length: ' . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    $headers .= "Host: $ServerName\r\n"
        if $more_headers !~ /(?:^|\n)Host:/msi;
    $headers .= "Connection: $conn_header\r\n"
        if $more_headers !~ /(?:^|\n)Connection/msi;
    $headers .= "$more_headers$len_header\r\n";

    my @l = @{ $req->{line} };
    # [characters of the original text consumed, replacement]
    my @edits = (
        [$l[0], ''], [$l[1], "$req->{method} "], [$l[2], ''],
        [$l[3], "$req->{url} "], [$l[4], ''],
        [$l[5], "$req->{version}\r\n"], [$l[6], ''],
        [0, $headers], [length $req->{content}, $content],
    );

    my @out;
    my $cur;    # the packet being produced
    my $rest = 0;
    my @in = map { $_ // '' } @$packets;
    my $next_packet = sub {
        push @out, $cur if defined $cur;
        return 0 unless @in;
        my $p = shift @in;
        ($cur, $rest) = ('', length $p);
        return 1;
    };
    $next_packet->();

    for my $e (@edits) {
        my ($n, $repl) = @$e;
        # spread the replacement over the packets its source spans
        while ($n > $rest) {
            my $take = $rest;
            $cur .= substr($repl, 0, $take, '') if $repl ne '';
            $n -= $take;
            $rest = 0;
            last unless $next_packet->();
        }
        $cur .= $repl;
        $rest -= $n;
    }
    push @out, $cur if defined $cur;
    push @out, @in;

    # a packet wholly deleted disappears, as with the real runner
    return [grep { $_ ne '' } @out] if @out > 1;
    return \@out;
}

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $is_chunked) = ('', undef);
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val //= '';
        $is_chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

sub _headers_for {
    my ($more_headers, $i, $what) = @_;
    if (ref $more_headers eq 'ARRAY') {
        my $h = $more_headers->[$i];
        bail_out("--- more_headers lacks data for $what") unless defined $h;
        return parse_more_headers($h);
    }
    return parse_more_headers($more_headers);
}

# a list of requests, each a list of packets {value => ..., delay_before => ...}
sub get_req_from_block ($) {
    my $block = shift;
    my $name = $block->name;
    my @reqs;

    if (defined(my $raw = $block->raw_request)) {
        if (ref $raw eq 'ARRAY') {
            push @reqs, [map { { value => $_ } } @$raw];
        } else {
            push @reqs, [{ value => $raw }];
        }
        return \@reqs;
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
        }
    }

    my $more_headers = $block->more_headers || '';

    if (my $pipelined = $block->pipelined_requests) {
        ref $pipelined eq 'ARRAY'
            or bail_out("$name - invalid entries in --- pipelined_requests");
        my $all = '';
        for my $i (0 .. $#$pipelined) {
            my $r = expand_env_in_text($pipelined->[$i], $name, $RandPorts);
            my ($hdr, $chunked) = _headers_for($more_headers, $i,
                                               "the $i pipelined request");
            my $conn = $i == $#$pipelined ? 'close' : 'keep-alive';
            $all .= build_request_from_packets($name, $hdr, $chunked, $conn,
                                               [$r])->[0];
        }
        return [[{ value => $all }]];
    }

    if (!ref $request) {
        my ($hdr, $chunked) = _headers_for($more_headers, 0, 'the request');
        my $r = build_request_from_packets($name, $hdr, $chunked, 'close',
                                           [$request]);
        return [[{ value => $r->[0] }]];
    }

    ref $request eq 'ARRAY'
        or bail_out("$name - invalid ---request : MUST be string or array "
                    . "of requests");

    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        my ($hdr, $chunked) = _headers_for($more_headers, $i,
                                           "the ${i}th request");
        if (!ref $one) {
            my $r = build_request_from_packets($name, $hdr, $chunked, 'close',
                                               [$one]);
            push @reqs, [{ value => $r->[0] }];

        } elsif (ref $one eq 'ARRAY') {
            my @values = map {
                !ref $_ ? $_
                : ref $_ eq 'HASH' ? $_->{value}
                : bail_out("$name - Invalid syntax. $_ should be a string "
                           . "or hash with value.")
            } @$one;
            my $built = build_request_from_packets($name, $hdr, $chunked,
                                                   'close', \@values);
            my @packets;
            for my $j (0 .. $#$built) {
                my %p = ref $one->[$j] eq 'HASH' ? %{ $one->[$j] } : ();
                $p{value} = $built->[$j];
                push @packets, \%p;
            }
            push @reqs, \@packets;

        } else {
            bail_out("$name - Invalid syntax. $one should be a string or an "
                     . "array of packets.");
        }
    }

    return \@reqs;
}

# ------------------------------------------------------------------------
# talking to NGINX

sub send_request ($$$$;$) {
    my ($packets, $middle_delay, $timeout, $block, $tries) = @_;
    my $name = $block->name;
    my @bits = @$packets;

    my $head_req = (join '', map { $_->{value} // '' } @bits)
                   =~ /^\s*HEAD\s+/ ? 1 : 0;

    my $addr = $block->server_addr_for_client // $ServerAddr;

    my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                     PeerPort => $ServerPortForClient,
                                     Proto => 'tcp', Timeout => $timeout);

    if (!$sock) {
        my $err = $!;
        $tries ||= 1;
        my $total = $TotalConnectingTimeouts ? 20 : 50;
        if ($tries <= $total) {
            my $wait = ($TestNginxSleep + $TestNginxSleep * $tries) * $tries / 2;
            $wait = 1 if $wait >= 1;
            if ($wait >= 0.6) {
                warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n";
            }
            Time::HiRes::sleep($wait);
            return send_request($packets, $middle_delay, $timeout, $block,
                                $tries + 1);
        }

        my $msg = "$name - Can't connect to $addr:$ServerPortForClient: "
                  . "$err (aborted)\n";
        if (++$TotalConnectingTimeouts < 3) {
            Test::More->builder->no_ending(1);
            Test::More::fail($msg);
        } else {
            bail_out($msg);
        }
        return (undef, $head_req);
    }

    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $first = shift @bits;
    my $wbuf = $first->{value} // '';
    my $writing = 1;
    my $reading = 1;

    while ($writing || $reading) {
        my $rsel = IO::Select->new($reading ? $sock : ());
        my $wsel = IO::Select->new($writing ? $sock : ());
        my ($r, $w) = IO::Select->select($rsel, $wsel, undef, $timeout);

        if (!$r && !$w) {
            close $sock;
            if (!defined $block->abort) {
                Test::More->builder->no_ending(1);
                Test::More::fail("ERROR: client socket timed out - $name\n");
            } else {
                Time::HiRes::sleep(0.005);
            }
            last;
        }

        if ($r && @$r) {
            while (1) {
                my $n = sysread($sock, my $buf, 1024);
                if (!defined $n) {
                    last if $! == POSIX::EAGAIN();
                    warn "WARNING: $name - HTTP response read failure: $!";
                    ($reading, $writing) = (0, 0);
                    last;
                }
                if ($n == 0) {
                    ($reading, $writing) = (0, 0);
                    last;
                }
                $resp .= $buf;
            }
            last unless $reading;
        }

        if ($w && @$w && $writing) {
            while (1) {
                if (length $wbuf) {
                    my $n = syswrite($sock, $wbuf);
                    if (!defined $n) {
                        last if $! == POSIX::EAGAIN();
                        warn "write failed: $!\n";
                        $resp = "write failed: $!" if $resp eq '';
                        ($reading, $writing) = (0, 0);
                        last;
                    }
                    substr($wbuf, 0, $n, '');
                    next;
                }

                my $next = shift @bits;
                if (!$next) {
                    $writing = 0;
                    my $shutdown = $block->shutdown;
                    if (defined $shutdown) {
                        $shutdown = 1 if $shutdown =~ /^$/s;
                        shutdown($sock, $shutdown);
                    }
                    last;
                }
                $wbuf = $next->{value} // '';
                my $delay = defined $next->{delay_before}
                            ? $next->{delay_before} : $middle_delay;
                Time::HiRes::sleep($delay) if $delay;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ------------------------------------------------------------------------
# responses

{
    package Test::Nginx::Socket::Response;

    sub new {
        my ($class, %args) = @_;
        return bless { code => undef, headers => [], content => '', %args },
                     $class;
    }

    sub code {
        my $self = shift;
        $self->{code} = shift if @_;
        return $self->{code};
    }

    sub content {
        my $self = shift;
        $self->{content} = shift if @_;
        return $self->{content};
    }

    # values of a field, case-insensitively ("_" stands for "-"), joined
    # with ", " in scalar context
    sub header {
        my ($self, $field) = @_;
        $field =~ tr/_/-/ if $field !~ /^:/;
        my @v = map { $_->[1] } grep { lc $_->[0] eq lc $field }
                @{ $self->{headers} };
        return @v if wantarray;
        return @v ? join(', ', @v) : undef;
    }
}

sub _parse_http_message {
    my $str = shift // '';

    my $status_line;
    if ($str =~ s/^(.*)\n//) {
        $status_line = $1;
    } else {
        ($status_line, $str) = ($str, '');
    }
    $status_line =~ s/\r\z//;

    my @hdr;
    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            my ($k, $v) = ($1, $2);
            $v =~ s/\r\z//;
            push @hdr, [$k, $v];
        } elsif (@hdr && $str =~ s/^([ \t].*)\n?//) {
            $hdr[-1][1] .= "\n$1";
            $hdr[-1][1] =~ s/\r\z//;
        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }

    my $res = Test::Nginx::Socket::Response->new(headers => \@hdr,
                                                 content => $str);
    my $code;
    if ($status_line =~ /^\d{3} /) {
        ($code) = split ' ', $status_line, 2;
    } else {
        (undef, $code) = split ' ', $status_line, 3;
    }
    $res->code($code) if defined $code;
    return $res;
}

sub _chunk_fail {
    my $msg = shift;
    Test::More->builder->no_ending(1);
    Test::More::fail($msg);
    return;
}

sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = _parse_http_message($raw);
    my $left;

    my $code = $res->code;
    if ($code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my @trailers = $res->header('Trailer');

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content // '';
        my $decoded = '';
        pos($body) = 0;

        while (1) {
            if (!@trailers && $body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            if (@trailers && $body =~ /\G0[ \t]*\r\n/gc) {
                for my $t (@trailers) {
                    $body =~ /\G(\Q$t\E: [^\n]*\r\n)/gc
                        or return _chunk_fail("$name - invalid trailer data "
                                              . "received (expected $t).");
                }
                $body =~ /\G\r\n/gc
                    or return _chunk_fail("$name - invalid chunked data "
                                          . "received (expected CRLF).");
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $at = pos($body);
                if (length($body) - $at < $size) {
                    return _chunk_fail("$name - invalid chunked data received "
                                       . "(not enought octets for the data "
                                       . "section)");
                }
                $decoded .= substr($body, $at, $size);
                pos($body) = $at + $size;
                $body =~ /\G\r\n/gc
                    or return _chunk_fail("$name - invalid chunked data "
                                          . "received (expected CRLF).");
                next;
            }
            if ($body =~ /\G(.+)/gcs) {
                return _chunk_fail("$name - invalid chunked body received: $1");
            }
            return _chunk_fail("$name - no last chunk found - $body");
        }

        $res->content($decoded);

    } elsif (defined $len && $len ne '' && $len >= 0) {
        my $body = $res->content;
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# ------------------------------------------------------------------------
# the checks

# one TAP test, skipped when the block runs dry
sub _check {
    my ($dry_run, $why, $code) = @_;
    SKIP: {
        Test::More::skip("$why - tests skipped due to $dry_run", 1) if $dry_run;
        $code->();
    }
}

sub get_indexed_value ($$$$) {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need array.")
            if $idx != 0;
        return $value->[0];
    }
    return $value;
}

sub check_error_code {
    my ($block, $res, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    my $got = ($res && $res->code) || '';
    _check($dry_run, $name, sub {
        if (defined $block->error_code_like) {
            my $pat = get_indexed_value($name, $block->error_code_like, $idx,
                                        $need_array);
            Test::More::like($got, qr/$pat/sm, "$name - status code ok");
        } elsif (defined $block->error_code) {
            Test::More::is($got, get_indexed_value($name, $block->error_code,
                                                   $idx, $need_array),
                           "$name - status code ok");
        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    });
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;
    for my $kind (qw(like unlike)) {
        my $spec = $block->_get("raw_response_headers_$kind");
        next unless defined $spec;
        _check($dry_run, "$name - raw_response_headers_$kind", sub {
            my $pat = get_indexed_value($name, $spec, $idx, $need_array);
            my $f = $kind eq 'like' ? \&Test::More::like : \&Test::More::unlike;
            $f->($raw_headers, qr/$pat/s, "$name - raw resp headers $kind");
        });
    }
}

sub parse_headers ($) {
    my $s = shift;
    my %headers;
    for my $line (split /^/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        if ($line =~ s/^!\s*//) {
            $headers{$line} = undef;
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            $headers{$key} = $val;
        }
    }
    return \%headers;
}

sub check_response_headers {
    my ($block, $res, $raw_headers, $dry_run, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value(
            $name, $block->response_headers, $idx, $need_array));
        for my $key (keys %$headers) {
            my $val = $headers->{$key};
            if (!defined $val) {
                _check($dry_run, "$name - response_headers", sub {
                    Test::More::unlike($raw_headers // '',
                                       qr/^\s*\Q$key\E\s*:/ms,
                                       "$name - header $key not present in "
                                       . "the raw headers");
                });
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            $actual //= '';
            _check($dry_run, "$name - response_headers", sub {
                Test::More::is($actual, $val, "$name - header $key ok");
            });
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value(
            $name, $block->response_headers_like, $idx, $need_array));
        for my $key (keys %$headers) {
            my $val = $headers->{$key} // '';
            my $actual = ($res ? $res->header($key) : undef) // '';
            _check($dry_run, "$name - response_headers_like", sub {
                Test::More::like($actual, qr/^$val$/,
                                 "$name - header $key like ok");
            });
        }
    }
}

sub _run_body_filter {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;
    if (ref $filter eq 'CODE') {
        return $filter->($content);
    }
    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only "
                 . "supports subroutine reference values and string values");
    }
    my %f = (
        md5_hex  => sub { require Digest::MD5; Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );
    $f{$filter}
        or bail_out("$name - unknown filter, \"$filter\", specified in the "
                    . "--- response_body_filters section");
    return $f{$filter}->($content);
}

sub transform_response_body {
    my ($block, $res, $idx) = @_;
    return unless defined $res && defined $res->content;
    my $filters = $block->response_body_filters;
    return unless defined $filters;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    my $f = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        $f = $filters->[$idx];
        bail_out($block->name . " - the ---response_body_filters "
                 . "two-dimensional array unmatch the specified "
                 . "request($idx)") unless defined $f;
    }

    my $new = $res->content;
    for my $one (ref $f eq 'ARRAY' ? @$f : ($f)) {
        $new = _run_body_filter($block, $one, $new);
    }
    $res->content($new);
}

sub check_response_body {
    my ($block, $res, $dry_run, $idx, $repeated, $need_array) = @_;
    my $name = $block->name;

    if (defined(my $file = $block->write_resp_body_file)) {
        if ($res && open my $out, '>', $file) {
            print $out $res->content // '';
            close $out;
        }
    }

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        if (defined $block->response_body_json_sort) {
            require JSON::PP;
            my $js = JSON::PP->new->canonical(1);
            my $obj = eval { $js->loose(1)->decode($content) };
            $content = $js->encode($obj) . "\n" unless $@;
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body, $idx,
                                          $need_array);
        }

        if ($block->charset) {
            require Encode;
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name, $RandPorts);
        }

        _check($dry_run, "$name - response_body", sub {
            if (ref $expected) {
                Test::More::like($content, $expected, "$name - response_body "
                                 . "- like (repeated req $repeated, req $idx)");
            } else {
                Test::More::is($content, $expected, "$name - response_body - "
                               . "response is expected (repeated req "
                               . "$repeated, req $idx)");
            }
        });

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $pat = get_indexed_value($name, $block->_get("response_body_$type"),
                                    $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';
        my $f = $type eq 'like' ? \&Test::More::like : \&Test::More::unlike;
        _check($dry_run, "$name - response_body_$type", sub {
            $f->($content, qr/$pat/s, "$name - response_body_$type - "
                 . "response is expected ($summary)");
        });
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $idx, $repeated,
                 $dry_run);
    }
}

sub _log_data {
    my ($file, $track) = @_;
    Time::HiRes::sleep($TestNginxSleep * 3);
    open my $in, '<', $file or return undef;
    if ($track && !$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) if $track && !$CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub error_log_data ()  { _log_data($ErrLogFile, 1) }
sub access_log_data () { _log_data($AccLogFile, 0) || [] }

sub _patterns {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _matches {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

sub _value_contains {
    my ($val, $str) = @_;
    return $val =~ /\Q$str\E/ if !ref $val || ref $val eq 'Regexp';
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if _value_contains($v, $str);
        }
    }
    return undef;
}

# "--- error_log"-like (each pattern must match a line: one test each) and
# "--- no_error_log"-like (no pattern may match: one test each, plus one
# failure per further matching line) checks over the given lines
sub _check_log_patterns {
    my ($lines, $pats, $must, $dry_run, $name, $section, $file, $suffix) = @_;

    if ($must) {
        for my $line (@$lines) {
            for my $pat (@$pats) {
                next if !defined $pat;
                if (_matches($line, $pat)) {
                    _check($dry_run, "$name - $section", sub {
                        Test::More::pass("$name - pattern \"$pat\" matches a "
                                         . "line in $file$suffix");
                    });
                    undef $pat;
                }
            }
        }
        for my $pat (@$pats) {
            next if !defined $pat;
            _check($dry_run, "$name - $section", sub {
                Test::More::fail("$name - pattern \"$pat\" should match a line "
                                 . "in $file$suffix");
            });
        }
        return;
    }

    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next if !defined $pat;
            next unless _matches($line, $pat);
            if ($found{$pat}++) {
                Test::More->builder->no_ending(1);
            }
            _check($dry_run, "$name - $section", sub {
                my @more = @$lines[$i + 1 .. List::Util::min($i + 9,
                                                             $#$lines - 1)];
                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                                 . "\" should not match any line in $file but "
                                 . "matches line \"" . fmt_str($line) . "\""
                                 . "$suffix\n" . join '', @more);
            });
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        _check($dry_run, "$name - $section", sub {
            Test::More::pass("$name - pattern \"" . fmt_str($pat) . "\" does "
                             . "not match a line in $file$suffix");
        });
    }
}

sub check_error_log {
    my ($block, $res, $dry_run, $repeated, $need_array) = @_;
    my $name = $block->name;
    my $lines;
    my %warn_for = map { $_ => 1 } qw(alert crit emerg);

    my $grep_pat;
    if (defined(my $g = $block->grep_error_log)) {
        $grep_pat = ref $g eq 'ARRAY' ? $g->[$repeated] : $g;
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        defined $expected
            or bail_out("$name - No --- grep_error_log_out defined but "
                        . "--- grep_error_log is defined");
        $expected = expand_env_in_text($expected, $name, $RandPorts)
            unless ref $expected;
        $expected = $expected->[$repeated] if ref $expected eq 'ARRAY';

        _check($dry_run, "$name - error_log", sub {
            $lines ||= error_log_data();
            my $out = '';
            for my $line (@$lines) {
                if ((ref $grep_pat && $line =~ /$grep_pat/)
                    || $line =~ /\Q$grep_pat\E/)
                {
                    $out .= "$&\n" if $& !~ /\n/;
                }
            }
            if (ref $expected eq 'Regexp') {
                Test::More::like($out, $expected,
                                 "$name - grep_error_log_out (req $repeated)");
            } else {
                Test::More::is($out, $expected,
                               "$name - grep_error_log_out (req $repeated)");
            }
        });
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->_get($section);
        next unless defined $pats;
        for my $level (keys %warn_for) {
            delete $warn_for{$level} if _value_contains($pats, "[$level");
        }
        $lines ||= error_log_data();
        _check_log_patterns($lines, _patterns($pats), $section eq 'error_log',
                            $dry_run, $name, $section, 'error.log',
                            " (req $repeated)");
    }

    if (!$dry_run) {
        $lines ||= error_log_data();
        for my $line (@$lines) {
            if ($line =~ /\[(alert|crit|emerg)\]/ && $warn_for{$1}) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More->builder->no_ending(1);
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

sub check_access_log {
    my ($block, $dry_run, $repeated) = @_;
    my $name = $block->name;
    my $lines;
    for my $section (qw(access_log no_access_log)) {
        my $pats = $block->_get($section);
        next unless defined $pats;
        $lines ||= access_log_data();
        _check_log_patterns($lines, _patterns($pats), $section eq 'access_log',
                            $dry_run, $name, $section, 'access.log',
                            " (req $repeated)");
    }
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines;

    if (defined(my $pats = $block->shutdown_error_log)) {
        $lines ||= error_log_data();
        _check_log_patterns($lines, _patterns($pats), 1,
                            $dry_run ? 'dry_run' : 0, $name,
                            'shutdown_error_log', 'error.log', '');
        for my $line (@$lines) {
            if ($line =~ /\bAssertion .*? failed\.$/) {
                Test::More->builder->no_ending(1);
                chomp(my $l = $line);
                Test::More::fail("$name - $l");
            }
        }
    }

    if (defined(my $pats = $block->no_shutdown_error_log)) {
        $lines ||= error_log_data();
        _check_log_patterns($lines, _patterns($pats), 0, $dry_run, $name,
                            'no_shutdown_error_log', 'error.log', '');
    }
}

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated) = @_;
    my $name = $block->name;

    for my $s (qw(http2 http3 tcp_listen udp_listen unix_listen)) {
        if (defined $block->_get($s)) {
            bail_out("$name - --- $s is not supported by the bundled "
                     . "Test::Nginx runner; install the real Test::Nginx");
        }
    }

    my $reqs = get_req_from_block($block);
    bail_out("$name - request empty") if !@$reqs;

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() if !defined $timeout;

    my $pipelined = $block->pipelined_requests;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $res;
    my $idx = 0;

    for my $r (0 .. $#$reqs) {
        my ($raw, $head_req) = ('', 0);
        if ($dry_run) {
            $raw = "200 OK HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw, $head_req) = send_request($reqs->[$r],
                                             $block->raw_request_middle_delay,
                                             $timeout, $block);
        }

        # several responses in one stream for pipelined requests
        my $n = $pipelined ? scalar @$pipelined : 0;

        while (1) {
            $raw //= '';
            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(code => 200,
                                                              content => $raw);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw,
                                                                 $head_req);
                }
            }

            if (!$n) {
                if (defined $left && length $left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$l\"\n";
                }
            } else {
                $raw = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $idx, $need_array);
                transform_response_body($block, $res, $idx);
                check_response_body($block, $res, $dry_run, $idx, $repeated,
                                    $need_array);
            }

            if ($n || $r < $#$reqs) {
                Time::HiRes::sleep($block->wait) if $block->wait;
                check_error_log($block, $res, $dry_run, $repeated, $need_array);
                check_access_log($block, $dry_run, $repeated)
                    unless defined $block->ignore_response;
            }

            $idx++;
            last unless $n;
        }
    }

    Time::HiRes::sleep($block->wait) if $block->wait;

    if ($block->{stap}) {
        _check("env TEST_NGINX_USE_STAP is not set", "$name - stap_out",
               sub { });
    }

    check_error_log($block, $res, $dry_run, $repeated, $need_array);
    check_access_log($block, $dry_run, $repeated)
        unless defined $block->ignore_response;
}

# ------------------------------------------------------------------------
# the blocks of data after __DATA__ (the Test::Base format)

package Test::Nginx::Socket::Block;

use strict;
use warnings;

sub new {
    my $class = shift;
    return bless {}, $class;
}

# a section's value: the first value in scalar context, all in list context
sub _get {
    my ($self, $section) = @_;
    my @list = @{ $self->{$section} || [] };
    return wantarray ? @list : $list[0];
}

sub set_value {
    my ($self, $section, @values) = @_;
    $self->{$section} = [@values];
}

sub name        { $_[0]->_get('name') }
sub description { $_[0]->_get('description') }
sub seq_num     { $_[0]{_seq_num} }

our $AUTOLOAD;

sub AUTOLOAD {
    my $self = shift;
    (my $section = $AUTOLOAD) =~ s/.*:://;
    return if $section eq 'DESTROY' || !ref $self;
    if (@_) {
        Carp::croak("Not allowed to set values for '$section'");
    }
    return $self->_get($section);
}

package Test::Base::Filter;

# "--- section eval" code is compiled here, the package the real runner's
# Test::Base compiles it in, under strict and warnings as there.
use strict;
use warnings;

our $arguments;

sub _ap_eval {
    my @ret = CORE::eval(shift);
    return $@ if $@;
    return @ret;
}

package Test::Nginx::Socket;

use strict;
use warnings;

our $VERSION = '0.33';
our $IsBundledRunner = 1;

my @DefaultFilters = qw(norm trim);
my %FilterMap;
my $Blocks;

sub _filter_args {
    my $args = shift;
    return undef unless defined $args;
    $args =~ s/(\\s)/ /g;
    $args =~ s/(\\[a-z])/'"' . $1 . '"'/gee;
    return $args;
}

sub _one_value {
    my ($filter, @v) = @_;
    die "Input to the '$filter' filter must be a scalar, not a list\n"
        if @v != 1;
    return $v[0];
}

my %Filters = (
    norm => sub {
        my $t = _one_value('norm', @_) // '';
        $t =~ s/\015\012/\n/g;
        $t =~ s/\r/\n/g;
        return $t;
    },
    trim => sub {
        return map { s/\A([ \t]*\n)+//; s/(?<=\n)\s*\z//g; $_ } @_;
    },
    chomp   => sub { map { CORE::chomp; $_ } @_ },
    chop    => sub { map { CORE::chop; $_ } @_ },
    unchomp => sub { map { $_ . "\n" } @_ },
    eval    => sub { Test::Base::Filter::_ap_eval(_one_value('eval', @_)) },
    array   => sub { [@_] },
    hash    => sub { +{@_} },
    reverse => sub { reverse @_ },
    sort    => sub { sort @_ },
    lines   => sub {
        my $t = _one_value('lines', @_);
        return () unless length $t;
        return $t =~ /^(.*\n?)/gm;
    },
    join => sub {
        my $sep = _filter_args($_[0]) // '';
        shift;
        return join $sep, @_;
    },
    split => sub {
        my $sep = _filter_args(shift);
        my $t = _one_value('split', @_);
        if (defined $sep && $sep =~ s{^/(.*)/$}{$1}) {
            $sep = qr{$sep};
        }
        $sep = qr/\s+/ unless $sep;
        return split $sep, $t;
    },
    append  => sub { my $s = _filter_args(shift) // ''; map { $_ . $s } @_ },
    prepend => sub { my $s = _filter_args(shift) // ''; map { $s . $_ } @_ },
    head    => sub { my $n = _filter_args(shift) || 1; splice @_, 0, $n },
    tail    => sub { my $n = _filter_args(shift) || 1; splice @_, @_ - $n, $n },
    regexp  => sub {
        my $flags = _filter_args(shift);
        my $t = _one_value('regexp', @_);
        if ($t =~ /\n.*?\n/s) {
            $flags = 'xism' unless defined $flags;
        } else {
            CORE::chomp $t;
        }
        $flags ||= '';
        my $re = eval "qr{$t}$flags";
        die $@ if $@;
        return $re;
    },
    flatten => sub {
        my $r = _one_value('flatten', @_);
        return map { ($_, $r->{$_}) } sort keys %$r if ref $r eq 'HASH';
        return @$r if ref $r eq 'ARRAY';
        die "Can only flatten a hash or array ref";
    },
    escape => sub {
        my $t = _one_value('escape', @_);
        $t =~ s/(\\.)/eval "qq{$1}"/ge;
        return $t;
    },
    strict => sub {
        return "use strict;\nuse warnings;\n" . _one_value('strict', @_);
    },
    base64_decode => sub {
        require MIME::Base64;
        MIME::Base64::decode_base64(_one_value('base64_decode', @_));
    },
    base64_encode => sub {
        require MIME::Base64;
        MIME::Base64::encode_base64(_one_value('base64_encode', @_));
    },
);

# filters that take "=arguments"
my %TakesArgs = map { $_ => 1 } qw(join split append prepend head tail regexp);

sub _filters_of {
    my ($type, $string) = @_;
    $string //= '';
    $string =~ s/^\s*//;
    my $map = $FilterMap{$type} || [];
    $map = [$map] unless ref $map;
    my (@filters, @append);
    for my $f (@DefaultFilters, @$map, split /\s+/, $string) {
        last unless length $f;
        if ($f =~ s/^-//) {
            @filters = grep { $_ ne $f } @filters;
        } elsif ($f =~ s/^\+//) {
            push @append, $f;
        } else {
            push @filters, $f;
        }
    }
    return (@filters, @append);
}

sub _run_filters {
    my $block = shift;
    return if $block->{_filtered}++;
    for my $type (@{ $block->{_section_order} }) {
        my @value = $block->_get($type);
        for my $filter (_filters_of($type, $block->{_section_filters}{$type})) {
            my $args = $filter =~ s/=(.*)$// ? $1 : undef;
            no strict 'refs';
            if (defined &{"main::$filter"}) {
                local $_ = (@value == 1 && !defined $value[0]) ? undef
                                                               : join '', @value;
                local $Test::Base::Filter::arguments = $args;
                my $old = $_;
                @value = &{"main::$filter"}(@value);
                if (!@value || (@value == 1 && defined $value[0]
                                && $value[0] =~ /\A(\d+|)\z/))
                {
                    @value = ($_);
                }
            } elsif (my $code = $Filters{$filter}) {
                @value = $TakesArgs{$filter} ? $code->($args, @value)
                                             : $code->(@value);
            } else {
                die "Can't find a function or method for '$filter' filter\n";
            }
            $block->set_value($type, @value);
        }
    }
}

my %Reserved = map { $_ => 1 }
    qw(new set_value name description seq_num AUTOLOAD DESTROY
       run_filters is_filtered blocks_object original_values);

sub _make_block {
    my $hunk = shift;
    my $block = Test::Nginx::Socket::Block->new;

    $hunk =~ s/\A===[ \t]*(.*)\s+// or die "bad block: $hunk";
    my $name = $1;

    my @parts = split /^--- +\(?(\w+)\)? *(.*)?\n/m, $hunk;
    my $description = shift @parts;
    $description = $name unless defined $description && $description =~ /\S/;
    $description =~ s/\s*\z//;
    $block->set_value(description => $description);

    my (@order, %filters);
    while (@parts) {
        my ($type, $filter, $value) = splice @parts, 0, 3;
        if ($Reserved{$type} || $type =~ /^_/) {
            Carp::croak("'$type' is a reserved name. Use something else.\n");
        }
        $value //= '';
        $filter //= '';
        if ($filter =~ /:(\s|\z)/) {
            Carp::croak("Extra lines not allowed in '$type' section")
                if $value =~ /\S/;
            ($filter, $value) = split /\s*:(?:\s+|\z)/, $filter, 2;
            $value //= '';
            $value =~ s/^\s*(.*?)\s*$/$1/;
        }
        $filters{$type} = $filter;
        push @order, $type;
        $block->set_value($type, $value);
    }
    $block->set_value(name => $name);
    $block->{_section_order} = \@order;
    $block->{_section_filters} = \%filters;
    return $block;
}

sub _load_blocks {
    return $Blocks if $Blocks;
    $Blocks = [];

    my $spec;
    {
        no strict 'refs';
        require Scalar::Util;
        if (my $fh = Scalar::Util::openhandle(\*{'main::DATA'})) {
            local $/;
            $spec = <$fh>;
        }
    }
    return $Blocks unless defined $spec;

    if ($spec =~ s/\A\s*<<<(.*?)>>>\s*$//sm) {
        my $code = $1;
        eval "package main; $code";
        Carp::croak($@) if $@;
    }

    my $seq = 1;
    for my $hunk ($spec =~ /^(===.*?(?=^===|\z))/msg) {
        my $block = _make_block($hunk);
        if (exists $block->{ONLY}) {
            Test::More::diag("I found ONLY: maybe you're debugging?");
            $block->{_seq_num} = 1;
            $Blocks = [$block];
            return $Blocks;
        }
        next if exists $block->{SKIP};
        $block->{_seq_num} = $seq++;
        push @$Blocks, $block;
        last if exists $block->{LAST};
    }
    return $Blocks;
}

sub blocks () {
    my $blocks = _load_blocks();
    return scalar @$blocks unless wantarray;
    _run_filters($_) for @$blocks;
    return @$blocks;
}

my @NextList;

sub next_block () {
    @NextList = (@{ _load_blocks() }, undef) unless @NextList;
    my $block = shift @NextList;
    _run_filters($block) if $block;
    return $block;
}

sub first_block () {
    @NextList = ();
    return next_block();
}

sub filters {
    if (ref $_[0] eq 'HASH') {
        %FilterMap = %{ $_[0] };
    } else {
        push @DefaultFilters, @_;
    }
    return;
}

sub no_diff { $ENV{TEST_SHOW_NO_DIFFS} = 1 }

my @UtilExports = qw(
    env_to_nginx is_str run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
);

my @TestMoreExports = qw(
    ok is isnt like unlike is_deeply cmp_ok skip todo_skip pass fail
    eq_array eq_hash eq_set plan can_ok isa_ok diag use_ok
);

my @OwnExports = qw(blocks next_block first_block filters no_diff);

sub import {
    my $class = shift;
    my $caller = caller;

    my $tb = Test::More->builder;
    $tb->exported_to($caller);
    $tb->plan(@_) if @_;

    no strict 'refs';
    my %from = (
        (map { $_ => "Test::Nginx::Util::$_" } @UtilExports),
        (map { $_ => "Test::More::$_" } @TestMoreExports),
        (map { $_ => "Test::Nginx::Socket::$_" } @OwnExports),
        (map { $_ => "Carp::$_" } qw(croak carp cluck confess)),
    );
    for my $sym (sort keys %from) {
        next if defined &{"${caller}::$sym"};
        *{"${caller}::$sym"} = \&{ $from{$sym} };
    }

    # like Test::Base: the rest of the test file is compiled under strict
    # and warnings
    require Filter::Util::Call;
    my $done = 0;
    Filter::Util::Call::filter_add(sub {
        return 0 if $done;
        my ($data, $end) = ('', '');
        while (my $status = Filter::Util::Call::filter_read()) {
            return $status if $status < 0;
            if (/^__(?:END|DATA)__\r?$/) {
                $end = $_;
                last;
            }
            $data .= $_;
            $_ = '';
        }
        $_ = "use strict;use warnings;$data$end";
        $done = 1;
        return 1;
    });
}

# blocks, run_tests, etc. are also callable as Test::Nginx::Socket::NAME
{
    no strict 'refs';
    for my $sym (@UtilExports) {
        *{"Test::Nginx::Socket::$sym"} = \&{"Test::Nginx::Util::$sym"}
            unless defined &{"Test::Nginx::Socket::$sym"};
    }
}

1;
