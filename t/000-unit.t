#!/usr/bin/perl

# Copyright (C) The ngx_async_primes authors

# The unit tests of the pure C parts: each t/unit/test_*.c is built with the
# module sources whose headers it includes, run, and its TAP relayed as a
# subtest.  CC picks the compiler; TEST_UNIT_CFLAGS adds flags, for example
# TEST_UNIT_CFLAGS='-fsanitize=address,undefined -fno-omit-frame-pointer'.

use strict;
use warnings;

use File::Spec ();
use File::Temp qw(tempdir);
use FindBin ();
use IPC::Open3 qw(open3);
use Test::More;

my $unit = File::Spec->catdir($FindBin::Bin, 'unit');
my $module = File::Spec->catdir($FindBin::Bin, File::Spec->updir,
                                'ngx_async_primes_module');

opendir(my $dh, $unit) or BAIL_OUT("cannot open $unit: $!");
my @tests = sort grep { /^test_\w+\.c\z/ } readdir $dh;
closedir $dh;

plan skip_all => "no unit tests in $unit" unless @tests;
plan tests => scalar @tests;

my $cc = $ENV{CC} || 'cc';

my @cflags = (qw(-O2 -g -Wall -Wextra -Werror -std=gnu99), '-I', $module);

if (defined $ENV{TEST_UNIT_CFLAGS}) {
    push @cflags, split ' ', $ENV{TEST_UNIT_CFLAGS};
}

# a report from UndefinedBehaviorSanitizer fails the program, not just talks
$ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1'
    unless defined $ENV{UBSAN_OPTIONS};

my $tmp = tempdir('ngx_async_primes_unit_XXXXXX', TMPDIR => 1,
                  CLEANUP => 1);

for my $test (@tests) {
    (my $name = $test) =~ s/\.c\z//;

    subtest $name => sub {
        unit_test($name, File::Spec->catfile($unit, $test));
    };
}


# runs a command, returns its exit status and its output, stderr included

sub run {
    my @cmd = @_;

    my ($pid, $out, $output);

    $pid = eval { open3(my $in, $out, undef, @cmd) };

    if (!defined $pid) {
        return (-1, "cannot run $cmd[0]: $@");
    }

    {
        local $/;
        $output = <$out>;
    }

    close $out;
    waitpid $pid, 0;

    return ($?, defined $output ? $output : '');
}


sub status_text {
    my ($status) = @_;

    return 'could not start' if $status == -1;
    return 'killed by signal ' . ($status & 127) if $status & 127;
    return 'exit status ' . ($status >> 8);
}


sub unit_test {
    my ($name, $src) = @_;

    my (@sources, @libs);

    open(my $fh, '<', $src) or die "cannot open $src: $!";

    while (my $line = <$fh>) {
        next unless $line =~ /^\s*#\s*include\s+"(ngx_async_primes_\w+)\.h"/;

        my $c = File::Spec->catfile($module, "$1.c");
        push @sources, $c if -f $c;
        push @libs, '-lcrypto' if $1 eq 'ngx_async_primes_id';
    }

    close $fh;

    my $bin = File::Spec->catfile($tmp, $name);

    my ($status, $output) = run($cc, @cflags, '-o', $bin, $src, @sources,
                                @libs, '-pthread');

    if (!ok($status == 0, "$name compiles")) {
        diag("$cc @cflags -o $bin $src @sources @libs -pthread");
        diag($output);
        done_testing();
        return;
    }

    ($status, $output) = run($bin);

    my ($plan, $count, $failed, $stray) = (undef, 0, 0, 0);

    for my $line (split /\n/, $output) {

        if ($line =~ /^(not )?ok\b\s*\d*\s*(?:-\s*)?(.*)\z/) {
            $count++;
            $failed = defined $1;
            ok(!$failed, $2);

        } elsif ($line =~ /^1\.\.(\d+)/) {
            $plan = $1;

        } elsif ($line =~ /^#\s?(.*)\z/) {
            # a diagnostic follows the test it belongs to
            if ($failed) {
                diag($1);

            } else {
                note($1);
            }

        } else {
            # not TAP: a sanitizer's report, say
            $stray++;
            diag($line);
        }
    }

    ok($stray == 0, "$name prints nothing but TAP");

    ok(defined $plan && $plan == $count, "$name printed a plan of $count")
        or diag(defined $plan ? "plan 1..$plan, ran $count"
                              : "no plan: did it die?");

    ok($status == 0, "$name exits cleanly")
        or diag(status_text($status));

    done_testing();
}
