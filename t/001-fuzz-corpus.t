#!/usr/bin/perl

# Copyright (C) The ngx_async_primes authors

# The fuzz corpus as a regression test, without clang: each fuzz/fuzz_*.c
# is built with fuzz/driver.c for a main() and the module sources whose
# headers it includes, then replays every file of fuzz/corpus/<target>.
# A broken property aborts the replay and names its input.  CC and
# TEST_UNIT_CFLAGS apply as in t/000-unit.t (SANITIZE=1 ./build.sh test
# replays under the sanitizers).

use strict;
use warnings;

use File::Spec ();
use File::Temp qw(tempdir);
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesUnit;
use Test::More;

my $root = File::Spec->catdir($FindBin::Bin, File::Spec->updir);
my $fuzz = File::Spec->catdir($root, 'fuzz');
my $module = File::Spec->catdir($root, 'ngx_async_primes_module');

opendir(my $dh, $fuzz) or plan skip_all => "no fuzz targets in $fuzz";
my @targets = sort map { /^fuzz_(\w+)\.c\z/ ? $1 : () } readdir $dh;
closedir $dh;

plan skip_all => "no fuzz targets in $fuzz" unless @targets;
plan tests => scalar @targets;

my $cc = unit_cc();
my @cflags = unit_cflags('-O1', $module, $fuzz);

my $tmp = tempdir('ngx_async_primes_fuzz_XXXXXX', TMPDIR => 1,
                  CLEANUP => 1);

for my $target (@targets) {
    subtest $target => sub { replay($target) };
}




sub replay {
    my ($target) = @_;

    my $src = File::Spec->catfile($fuzz, "fuzz_$target.c");
    my $corpus = File::Spec->catdir($fuzz, 'corpus', $target);
    my ($sources, $libs) = unit_sources($src, $module, 'ngx_async_primes_');
    my @sources = @$sources;
    my @libs = @$libs;

    opendir(my $dh, $corpus) or die "cannot open $corpus: $!";
    my $inputs = grep { !/^\./ } readdir $dh;
    closedir $dh;

    ok($inputs > 0, "$target has a seed corpus");

    my $bin = File::Spec->catfile($tmp, $target);
    my $driver = File::Spec->catfile($fuzz, 'driver.c');

    my ($status, $output) = unit_run($cc, @cflags, '-o', $bin, $src,
                                     $driver, @sources, @libs);

    if (!ok($status == 0, "$target compiles with a replay driver")) {
        diag("$cc @cflags -o $bin $src $driver @sources @libs");
        diag($output);
        done_testing();
        return;
    }

    ($status, $output) = unit_run($bin, $corpus);

    my @lines = split /\n/, $output;
    my @stray = grep { !/^(?:input .*|replayed \d+ inputs)\z/ } @lines;
    my ($replayed) = $output =~ /^replayed (\d+) inputs$/m;

    # the input being replayed when it died, then what killed it
    my @last = @lines > 10 ? @lines[-10 .. -1] : @lines;

    ok($status == 0, "$target replays its corpus")
        or diag(unit_status_text($status) . "\n" . join("\n", @last));

    ok(@stray == 0, "$target prints nothing but its inputs")
        or diag(join("\n", @stray));

    is($replayed, $inputs, "$target replays every input");

    done_testing();
}
