# What the suites that build C programs share (t/000-unit.t,
# t/001-fuzz-corpus.t, t/098-client-unit.t): the compiler and its flags,
# the sources a program's includes name, running a command, and relaying a
# program's TAP as tests.  Core Perl modules only.
#
#   unit_cc()                                -> $ENV{CC} or cc
#   unit_cflags($opt, @include_dirs)         -> warnings, -std, -I, and
#                                               TEST_UNIT_CFLAGS
#   unit_sources($src, $dir, $prefix)        -> (.c files in $dir whose
#                                               headers $src includes, libs)
#   unit_run(@cmd)                           -> ($status, $output)
#   unit_status_text($status)                -> "exit status 1", ...
#   unit_relay($name, $bin)                  -> runs $bin, one test per
#                                               TAP line, then checks it
package AsyncPrimesUnit;

use strict;
use warnings;

use Exporter qw(import);
use File::Spec ();
use IPC::Open3 qw(open3);
use Test::More ();

our @EXPORT = qw(unit_cc unit_cflags unit_sources unit_run unit_status_text
                 unit_relay);

# a report from UndefinedBehaviorSanitizer fails the program, not just talks
$ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1'
    unless defined $ENV{UBSAN_OPTIONS};

sub unit_cc {
    return $ENV{CC} || 'cc';
}

sub unit_cflags {
    my ($opt, @dirs) = @_;
    my @cflags = ($opt, qw(-g -Wall -Wextra -Werror -std=gnu99),
                  map { ('-I', $_) } @dirs);
    push @cflags, split ' ', $ENV{TEST_UNIT_CFLAGS}
        if defined $ENV{TEST_UNIT_CFLAGS};
    return @cflags;
}

# the sources of the headers "<prefix>*.h" that $src includes, and the
# libraries they need
sub unit_sources {
    my ($src, $dir, $prefix) = @_;
    my (@sources, @libs);

    open(my $fh, '<', $src) or die "cannot open $src: $!";
    while (my $line = <$fh>) {
        next unless $line =~ /^\s*#\s*include\s+"(\Q$prefix\E\w*)\.h"/;
        my $c = File::Spec->catfile($dir, "$1.c");
        push @sources, $c if -f $c;
        push @libs, '-lcrypto' if $1 eq 'ngx_async_primes_id';
    }
    close $fh;

    return (\@sources, \@libs);
}

# runs a command; returns its exit status and its output, stderr included
sub unit_run {
    my @cmd = @_;
    my ($in, $out);
    my $pid = eval { open3($in, $out, undef, @cmd) };
    return (-1, "cannot run $cmd[0]: $@") unless defined $pid;
    my $output = do { local $/; <$out> } // '';
    close $out;
    waitpid $pid, 0;
    return ($?, $output);
}

sub unit_status_text {
    my ($status) = @_;
    return 'could not start' if $status == -1;
    return 'killed by signal ' . ($status & 127) if $status & 127;
    return 'exit status ' . ($status >> 8);
}

# runs a unit test program and relays its TAP: a test per "ok" line, its
# diagnostics, then that it printed nothing else, a plan, and exited 0
sub unit_relay {
    my ($name, $bin) = @_;
    my ($status, $output) = unit_run($bin);
    my ($plan, $count, $failed, $stray) = (undef, 0, 0, 0);

    for my $line (split /\n/, $output) {
        if ($line =~ /^(not )?ok\b\s*\d*\s*(?:-\s*)?(.*)\z/) {
            $count++;
            $failed = defined $1;
            Test::More::ok(!$failed, $2);

        } elsif ($line =~ /^1\.\.(\d+)/) {
            $plan = $1;

        } elsif ($line =~ /^#\s?(.*)\z/) {
            # a diagnostic follows the test it belongs to
            $failed ? Test::More::diag($1) : Test::More::note($1);

        } else {
            # not TAP: a sanitizer's report, say
            $stray++;
            Test::More::diag($line);
        }
    }

    Test::More::ok($stray == 0, "$name prints nothing but TAP");
    Test::More::ok(defined $plan && $plan == $count,
                   "$name printed a plan of $count")
        or Test::More::diag(defined $plan ? "plan 1..$plan, ran $count"
                                          : "no plan: did it die?");
    Test::More::ok($status == 0, "$name exits cleanly")
        or Test::More::diag(unit_status_text($status));
}

1;
