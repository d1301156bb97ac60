#!/usr/bin/perl

# Copyright (C) The ngx_async_primes authors

# The unit tests of the client's pure parts (client/ap_record.c,
# client/ap_retry.c): each t/client/test_*.c is built with the client
# sources whose headers it includes, run, and its TAP relayed as a subtest.
# CC and TEST_UNIT_CFLAGS apply, as in t/000-unit.t.

use strict;
use warnings;

use File::Spec ();
use File::Temp qw(tempdir);
use FindBin ();
use IPC::Open3 qw(open3);
use Test::More;

my $dir = File::Spec->catdir($FindBin::Bin, 'client');
my $client = File::Spec->catdir($FindBin::Bin, File::Spec->updir, 'client');
my $tap = File::Spec->catdir($FindBin::Bin, 'unit');

opendir(my $dh, $dir) or BAIL_OUT("cannot open $dir: $!");
my @tests = sort grep { /^test_\w+\.c\z/ } readdir $dh;
closedir $dh;

plan skip_all => "no unit tests in $dir" unless @tests;
plan tests => scalar @tests;

my $cc = $ENV{CC} || 'cc';
my @cflags = (qw(-O2 -g -Wall -Wextra -Werror -std=gnu99),
              '-I', $client, '-I', $tap);
push @cflags, split ' ', $ENV{TEST_UNIT_CFLAGS}
    if defined $ENV{TEST_UNIT_CFLAGS};

$ENV{UBSAN_OPTIONS} = 'halt_on_error=1:print_stacktrace=1'
    unless defined $ENV{UBSAN_OPTIONS};

my $tmp = tempdir('ap_client_unit_XXXXXX', TMPDIR => 1, CLEANUP => 1);

for my $test (@tests) {
    (my $name = $test) =~ s/\.c\z//;
    subtest $name => sub { unit_test($name, "$dir/$test") };
}


# runs a command; returns its exit status and its output, stderr included

sub run {
    my @cmd = @_;
    my ($in, $out);
    my $pid = eval { open3($in, $out, undef, @cmd) };
    return (-1, "cannot run $cmd[0]: $@") unless defined $pid;
    my $output = do { local $/; <$out> } // '';
    waitpid $pid, 0;
    return ($?, $output);
}


sub unit_test {
    my ($name, $src) = @_;

    open(my $fh, '<', $src) or die "cannot open $src: $!";
    my @sources = grep { -f } map { /^\s*#\s*include\s+"(ap_\w+)\.h"/
                                    ? "$client/$1.c" : () } <$fh>;
    close $fh;

    my $bin = "$tmp/$name";
    my ($status, $output) = run($cc, @cflags, '-o', $bin, $src, @sources);

    if (!ok($status == 0, "$name compiles")) {
        diag("$cc @cflags -o $bin $src @sources");
        diag($output);
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
            $failed ? diag($1) : note($1);
        } else {
            # not TAP: a sanitizer's report, say
            $stray++;
            diag($line);
        }
    }

    ok($stray == 0, "$name prints nothing but TAP");
    ok(defined $plan && $plan == $count, "$name printed a plan of $count");
    ok($status == 0, "$name exits cleanly") or diag("status $status");
}
