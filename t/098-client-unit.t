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
use lib "$FindBin::Bin/inc";
use AsyncPrimesUnit;
use Test::More;

my $dir = File::Spec->catdir($FindBin::Bin, 'client');
my $client = File::Spec->catdir($FindBin::Bin, File::Spec->updir, 'client');
my $tap = File::Spec->catdir($FindBin::Bin, 'unit');

opendir(my $dh, $dir) or BAIL_OUT("cannot open $dir: $!");
my @tests = sort grep { /^test_\w+\.c\z/ } readdir $dh;
closedir $dh;

plan skip_all => "no unit tests in $dir" unless @tests;
plan tests => scalar @tests;

my $cc = unit_cc();
my @cflags = unit_cflags('-O2', $client, $tap);

my $tmp = tempdir('ap_client_unit_XXXXXX', TMPDIR => 1, CLEANUP => 1);

for my $test (@tests) {
    (my $name = $test) =~ s/\.c\z//;
    subtest $name => sub { unit_test($name, "$dir/$test") };
}


sub unit_test {
    my ($name, $src) = @_;

    my ($sources) = unit_sources($src, $client, 'ap_');
    my $bin = "$tmp/$name";
    my @cmd = ($cc, @cflags, '-o', $bin, $src, @$sources);

    my ($status, $output) = unit_run(@cmd);

    if (!ok($status == 0, "$name compiles")) {
        diag("@cmd");
        diag($output);
        return;
    }

    unit_relay($name, $bin);
}
