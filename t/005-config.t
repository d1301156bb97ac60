# Misconfiguration fails "nginx -t" with a message that names the directive
# and the value.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use File::Temp qw(tempdir);
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');

sub nginx_t {
    my ($main, $http, $location) = @_;
    my $dir = tempdir(CLEANUP => 1);

    mkdir "$dir/logs";
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh "load_module $_;\n" for @modules;
    print $fh <<"_EOC_";
error_log $dir/logs/error.log;
pid $dir/logs/nginx.pid;
$main
events { }
http {
    client_body_temp_path $dir/client_body_temp;
$http
    server {
        listen 127.0.0.1:1985;
        location /sumPrime {
            async_primes;
$location
        }
    }
}
_EOC_
    close $fh;

    my $out = `$nginx -t -p $dir -c $dir/nginx.conf 2>&1`;
    return ($? >> 8, $out);
}

my @bad = (
    ['', '', 'async_primes_ttl 500ms;',
     qr/\[emerg\] \d+#\d+: "async_primes_ttl" must be at least 1s, not "500ms"/],
    ['', '', 'async_primes_ttl soon;',
     qr/\[emerg\] \d+#\d+: invalid time "soon" in "async_primes_ttl"/],
    ['', '', 'async_primes_max_number 0;',
     qr/\[emerg\] \d+#\d+: "async_primes_max_number" must be a whole number from 1 to 18446744073709551615, not "0"/],
    ['', '', 'async_primes_max_number 18446744073709551616;',
     qr/\[emerg\] \d+#\d+: "async_primes_max_number" must be a whole number .* not "18446744073709551616"/],
    ['', '', 'async_primes_thread_pool nosuchpool;',
     qr/\[emerg\] \d+#\d+: unknown thread pool "nosuchpool"/],
    ['', '', 'async_primes;',
     qr/\[emerg\] \d+#\d+: "async_primes" directive is duplicate/],
    ['', 'async_primes_redis 127.0.0.1:99999;', '',
     qr/\[emerg\] \d+#\d+: invalid port in "async_primes_redis" address "127.0.0.1:99999"/],
    ['', "async_primes_redis 127.0.0.1:6379;\n    async_primes_redis 127.0.0.1:6380;", '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis" directive is duplicate/],
    ['', '', 'async_primes_job_threads 0;',
     qr/\[emerg\] \d+#\d+: "async_primes_job_threads" directive must be from 1 to 16/],
    ['', '', 'async_primes_job_threads 17;',
     qr/\[emerg\] \d+#\d+: "async_primes_job_threads" directive must be from 1 to 16/],
    ['', '', 'async_primes_max_work lots;',
     qr/\[emerg\] \d+#\d+: "async_primes_max_work" directive invalid value/],
    ['', 'async_primes_redis_timeout 0;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_timeout" directive must be at least 1ms/],
    ['', 'async_primes_redis_timeout forever;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_timeout" directive invalid value/],
    ['', 'async_primes_redis_auth async_primes secret extra;', '',
     qr/\[emerg\] \d+#\d+: invalid number of arguments in "async_primes_redis_auth" directive/],
    ['', 'async_primes_redis_auth;', '',
     qr/\[emerg\] \d+#\d+: invalid number of arguments in "async_primes_redis_auth" directive/],
    ['', 'async_primes_key_prefix ' . ('x' x 65) . ';', '',
     qr/\[emerg\] \d+#\d+: "async_primes_key_prefix" directive must be at most 64 bytes long/],
    ['', 'async_primes_max_jobs 0;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_max_jobs" directive must be at least 1/],
    ['', 'async_primes_max_jobs many;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_max_jobs" directive invalid number/],
    ['', '', 'async_primes_lease 500ms;',
     qr/\[emerg\] \d+#\d+: "async_primes_lease" directive must be at least 1s/],
    ['', '', "async_primes_ttl 10s;\n    async_primes_lease 10s;",
     qr/\[emerg\] \d+#\d+: "async_primes_lease" \(10000ms\) must be shorter than "async_primes_ttl" \(10000ms\)/],
    ['', 'async_primes_lease 1m;', 'async_primes_ttl 30s;',
     qr/\[emerg\] \d+#\d+: "async_primes_lease" \(60000ms\) must be shorter than "async_primes_ttl" \(30000ms\)/],
    ['', 'async_primes_redis_timeout 2s;', 'async_primes_lease 3s;',
     qr/\[emerg\] \d+#\d+: "async_primes_lease" \(3000ms\) must be at least twice "async_primes_redis_timeout" \(2000ms\)/],
    ['', '', 'async_primes_ttl 3s;',
     qr/\[emerg\] \d+#\d+: the lease of a job, 1500ms \(half of "async_primes_ttl"\), must be at least twice "async_primes_redis_timeout" \(1000ms\): set a longer "async_primes_ttl", or "async_primes_lease"/],
    ['', 'async_primes_redis_auth "";', '',
     qr/\[emerg\] \d+#\d+: empty password in "async_primes_redis_auth"/],
    ['', 'async_primes_redis_auth "" secret;', '',
     qr/\[emerg\] \d+#\d+: empty user name in "async_primes_redis_auth"/],
    ['', '', 'async_primes_redis_auth secret;',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_auth" directive is not allowed here/],
    ['', 'async_primes_redis_database three;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_database" directive invalid number/],
    ['', 'async_primes_redis_database -1;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_database" directive invalid number/],
    ['', 'async_primes_redis_database 2147483648;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_database" directive must be from 0 to 2147483647/],
    ['', 'async_primes_redis_database 1 2;', '',
     qr/\[emerg\] \d+#\d+: invalid number of arguments in "async_primes_redis_database" directive/],
    ['', "async_primes_redis_database 1;\n    async_primes_redis_database 1;", '',
     qr/\[emerg\] \d+#\d+: "async_primes_redis_database" directive is duplicate/],
    ['', 'async_primes_compute_priority 20;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_compute_priority" must be "off", "idle" or a nice value from -20 to 19, not "20"/],
    ['', 'async_primes_compute_priority -21;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_compute_priority" must be .* not "-21"/],
    ['', 'async_primes_compute_priority low;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_compute_priority" must be .* not "low"/],
    ['', 'async_primes_compute_priority -;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_compute_priority" must be .* not "-"/],
    ['', "async_primes_compute_priority 10;\n    async_primes_compute_priority idle;", '',
     qr/\[emerg\] \d+#\d+: "async_primes_compute_priority" directive is duplicate/],
    ['', '', 'async_primes_compute_priority 10;',
     qr/\[emerg\] \d+#\d+: "async_primes_compute_priority" directive is not allowed here/],
    ['', 'async_primes_cache 16k;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_cache" of 16k is too small: at least 32k/],
    ['', 'async_primes_cache lots;', '',
     qr/\[emerg\] \d+#\d+: "async_primes_cache" must be "off" or a size, not "lots"/],
    ['', "async_primes_cache 1m;\n    async_primes_cache off;", '',
     qr/\[emerg\] \d+#\d+: "async_primes_cache" directive is duplicate/],
    ['', '', 'async_primes_cache 1m;',
     qr/\[emerg\] \d+#\d+: "async_primes_cache" directive is not allowed here/],
);

for my $case (@bad) {
    my ($status, $out) = nginx_t(@$case[0 .. 2]);
    isnt($status, 0, "nginx -t fails: $case->[2]$case->[1]");
    like($out, $case->[3], "and says why: $case->[2]$case->[1]");
}

{
    my $dir = tempdir(CLEANUP => 1);
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh "load_module $_;\n" for @modules;
    print $fh "error_log $dir/error.log;\nevents { }\nhttp {\n"
              . "client_body_temp_path $dir/body;\n"
              . "server { listen 127.0.0.1:1985;\n"
              . "location = /sumPrime { async_primes; } } }\n";
    close $fh;
    my $out = `$nginx -t -p $dir -c $dir/nginx.conf 2>&1`;
    isnt($? >> 8, 0, 'nginx -t fails: an exact match location');
    like($out, qr/\[emerg\] \d+#\d+: "async_primes" needs a prefix location, not the exact match location "\/sumPrime"/,
         'and says why: an exact match location');
}

# the password of a refused directive is not repeated
{
    my ($status, $out) = nginx_t('', "async_primes_redis_auth user pw-1;\n"
                                     . "    async_primes_redis_auth user pw-2;",
                                 '');
    isnt($status, 0, 'nginx -t fails: async_primes_redis_auth twice');
    ok($out =~ /\[emerg\] \d+#\d+: "async_primes_redis_auth" directive is duplicate/
       && $out !~ /pw-[12]/, 'and says why, without the password')
        or diag($out);
}

my ($status, $out) = nginx_t('thread_pool primes threads=1;',
                             "async_primes_redis unix:/tmp/redis.sock;\n"
                             . "async_primes_redis_auth async_primes s%cr\$t;\n"
                             . "async_primes_redis_database 15;\n"
                             . "async_primes_key_prefix " . ('p' x 64) . ";\n"
                             . "async_primes_max_jobs 100000;\n"
                             . "async_primes_lease 9s;",
                             "async_primes_thread_pool primes;\n"
                             . "async_primes_ttl 10s;\n"
                             . "async_primes_max_work 1m;\n"
                             . "async_primes_job_threads 16;\n"
                             . "async_primes_max_number 18446744073709551615;");
is($status, 0, 'a good configuration passes') or diag($out);

for my $size (qw(off 32k 1m)) {
    ($status, $out) = nginx_t('', "async_primes_cache $size;", '');
    is($status, 0, "async_primes_cache $size passes") or diag($out);
}

for my $priority (qw(off idle 19 0 -20 +5)) {
    ($status, $out) = nginx_t('', "async_primes_compute_priority $priority;",
                              '');
    is($status, 0, "async_primes_compute_priority $priority passes")
        or diag($out);
}

done_testing();
