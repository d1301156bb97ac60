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
use lib "$FindBin::Bin/inc";
use AsyncPrimesUnit;
use Test::More;

my $unit = File::Spec->catdir($FindBin::Bin, 'unit');
my $module = File::Spec->catdir($FindBin::Bin, File::Spec->updir,
                                'ngx_async_primes_module');

opendir(my $dh, $unit) or BAIL_OUT("cannot open $unit: $!");
my @tests = sort grep { /^test_\w+\.c\z/ } readdir $dh;
closedir $dh;

plan skip_all => "no unit tests in $unit" unless @tests;

# the prefix sums once more as a compiler without function copies for
# POPCNT builds them: the copy a processor without POPCNT runs
my $baseline = grep { $_ eq 'test_prefix.c' } @tests;

plan tests => @tests + $baseline;

my $cc = unit_cc();
my @cflags = unit_cflags('-O2', $module);

my $tmp = tempdir('ngx_async_primes_unit_XXXXXX', TMPDIR => 1,
                  CLEANUP => 1);

for my $test (@tests) {
    (my $name = $test) =~ s/\.c\z//;

    subtest $name => sub {
        unit_test($name, File::Spec->catfile($unit, $test));
    };
}

if ($baseline) {
    subtest 'test_prefix without the POPCNT copies' => sub {
        unit_test('test_prefix_baseline',
                  File::Spec->catfile($unit, 'test_prefix.c'),
                  '-DNGX_ASYNC_PRIMES_NO_CLONES');
    };
}


sub unit_test {
    my ($name, $src, @extra) = @_;

    my ($sources, $libs) = unit_sources($src, $module, 'ngx_async_primes_');
    my $bin = File::Spec->catfile($tmp, $name);
    my @cmd = ($cc, @cflags, @extra, '-o', $bin, $src, @$sources, @$libs,
               '-pthread');

    my ($status, $output) = unit_run(@cmd);

    if (!ok($status == 0, "$name compiles")) {
        diag("@cmd");
        diag($output);
        return;
    }

    unit_relay($name, $bin);
}
