#!/usr/bin/perl

# Copyright (C) The ngx_async_primes authors

# The store's Lua scripts (ngx_async_primes_module/lua/*.lua): each
# compiles in Redis, under the SHA1 of its file, which is the name the
# module calls it by (of the same bytes, in C); a script that writes after reading Redis's clock asks for its
# effects to be replicated first, as Redis 3.2 to 4 require; and the C
# strings that "config" makes of them (in the build tree of ./build.sh)
# hold the files byte for byte.

use strict;
use warnings;

use Digest::SHA ();
use File::Spec ();
use File::Temp qw(tempdir);
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest ();
use AsyncPrimesUnit;
use Test::More;

my $root = File::Spec->catdir($FindBin::Bin, File::Spec->updir);
my $lua = File::Spec->catdir($root, 'ngx_async_primes_module', 'lua');
my $header = File::Spec->catfile($root, qw(build nginx objs addon
                                 ngx_async_primes
                                 ngx_http_async_primes_scripts.h));
my $redis = $ENV{TEST_NGINX_REDIS_PORT};

opendir(my $dh, $lua) or BAIL_OUT("cannot open $lua: $!");
my @names = sort map { /^(\w+)\.lua\z/ ? $1 : () } readdir $dh;
closedir $dh;

is_deeply(\@names, [qw(cancel final renew submit takeover)], 'the five scripts');

my %text;

for my $name (@names) {
    open my $fh, '<:raw', "$lua/$name.lua" or BAIL_OUT("$name.lua: $!");
    $text{$name} = do { local $/; <$fh> };
    close $fh;

    my $text = $text{$name};

    # a script Redis cannot compile is an error reply
    my $sha = eval {
        AsyncPrimesTest::ap_redis($redis, 'SCRIPT', 'LOAD', $text)
    };
    is($sha // $@, Digest::SHA::sha1_hex($text),
       "$name.lua compiles in Redis, named by the SHA1 of the file");

    # where each is first called, outside a comment
    my $time = $text =~ /^[^-\n]*redis\.call\('TIME'\)/m ? $-[0] : -1;
    my $asks = $text =~ /^\s*redis\.replicate_commands\(\)/m ? $-[0] : -1;

    ok($time < 0 || ($asks >= 0 && $asks < $time),
       "$name.lua asks for effects replication before it reads TIME");
}

SKIP: {
    skip "no $header: ./build.sh makes it", scalar @names
        unless -f $header;

    my $tmp = tempdir('ngx_async_primes_scripts_XXXXXX', TMPDIR => 1,
                      CLEANUP => 1);

    # a program that writes each C string to a file of its own
    open my $c, '>', "$tmp/dump.c" or BAIL_OUT("dump.c: $!");
    print $c "#include <stdio.h>\n#include \"$header\"\n\n"
             . "static void\ndump(const char *file, const char *s, "
             . "size_t n)\n{\n    FILE *f = fopen(file, \"wb\");\n\n"
             . "    fwrite(s, 1, n, f);\n    fclose(f);\n}\n\n"
             . "int\nmain(void)\n{\n";
    for my $name (@names) {
        print $c "    dump(\"$tmp/$name.out\", "
                 . "ngx_http_async_primes_${name}_lua, "
                 . "sizeof(ngx_http_async_primes_${name}_lua) - 1);\n";
    }
    print $c "    return 0;\n}\n";
    close $c;

    my $cc = unit_cc();
    system($cc, '-o', "$tmp/dump", "$tmp/dump.c") == 0
        or BAIL_OUT("cannot build $tmp/dump.c");
    system("$tmp/dump") == 0 or BAIL_OUT("$tmp/dump failed");

    for my $name (@names) {
        open my $fh, '<:raw', "$tmp/$name.out" or BAIL_OUT("$name.out: $!");
        my $out = do { local $/; <$fh> };
        close $fh;

        is($out, $text{$name}, "the C string of $name.lua is the file");
    }
}

done_testing();
