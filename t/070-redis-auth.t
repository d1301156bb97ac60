# A Redis that wants a password: async_primes_redis_auth (a password, or an
# ACL user and its password) and async_primes_redis_database.  Refusals
# fail the connection loudly, clients get 503 until Redis accepts again.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_shuffle();

# A Redis of this suite's own, whose default user has a password (the
# helpers send it), with the least-privilege user of docs/operations.md.
# Blocks that need Redis to answer give it 5 s: the machine may be busy.
$ENV{TEST_NGINX_AUTH_REDIS_PORT} ||= ap_free_port();

our $AclUser = [qw(on ~async_primes:* &async_primes:* +get +set +del +exists
                   +eval +evalsha +script|load +time +ping +select +publish
                   +subscribe)];

ap_start_redis($ENV{TEST_NGINX_AUTH_REDIS_PORT},
               '--requirepass', 'admin-secret');
ap_redis($ENV{TEST_NGINX_AUTH_REDIS_PORT}, 'ACL', 'SETUSER', 'async_primes',
         @$AclUser, '>job-secret');

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->config) {
        $block->set_value("config", <<'_EOC_');
    location /sumPrime {
        async_primes;
    }
_EOC_
    }
});

run_tests();

__DATA__

=== TEST 1: the password of the default user (requirepass)
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth admin-secret;
    async_primes_redis_timeout 5s;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]
admin-secret



=== TEST 2: an ACL user with the least privileges the module needs
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth async_primes job-secret;
    async_primes_redis_timeout 1s;
    async_primes_lease 2s;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_AUTH_REDIS_PORT};

# a job long enough to renew its lease, in a script, as this user
my $long = ap_post_job($port, 1, '10000000000000');
ap_poll_until($port, $long, 'FINISHED', 60);

# a job whose worker is gone: the takeover is a script too
my $orphan = '0f8fad5b-d9cb-469f-a165-70867728950e';
my $now = int(Time::HiRes::time() * 1000);
ap_redis($redis, 'SET', "async_primes:job:$orphan",
         sprintf("ap1 gone %d 1 1000 %d\n", $now - 1000, $now)
         . qq({"requestId":"$orphan","status":"IN_PROGRESS","payload":null}\n),
         'EX', 60);
ap_poll_until($port, $orphan, 'FINISHED', 10) =~ /"payload":"76127"/
    or die "the orphan job did not end with the sum of the primes up to 1000\n";

# the user is held to the module's keys
eval { ap_redis($redis, { user => 'async_primes', password => 'job-secret' },
                'GET', 'other') };
die "the ACL user may read other keys: " . ($@ || "no error") . "\n"
    unless $@ =~ /NOPERM/;

my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);
$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]
job-secret



=== TEST 3: a wrong password: 503, one line in the log, no password in it
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth async_primes not-the-job-secret;
--- init
# several attempts, every one refused
Time::HiRes::sleep(1);
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- response_body
{"error":"the job store (redis) is unavailable"}
--- error_log eval
qr/\[error\] .*async_primes: redis "127\.0\.0\.1:\d+" refused AUTH: WRONGPASS invalid username-password pair or user is disabled, retrying in the background$/
--- grep_error_log: " refused AUTH
--- grep_error_log_out
" refused AUTH
--- no_error_log
not-the-job-secret
is unreachable



=== TEST 4: the password set right on the Redis side: back without a reload
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth late new-secret;
    async_primes_redis_timeout 5s;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_AUTH_REDIS_PORT};

ap_redis($redis, 'ACL', 'SETUSER', 'late', 'reset', @$main::AclUser,
         '>old-secret');
ap_post_settles($port, 503, 5);

ap_redis($redis, 'ACL', 'SETUSER', 'late', '>new-secret');
ap_post_settles($port, 202, 10);
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 202
--- error_log
refused AUTH: WRONGPASS
is reachable again



=== TEST 5: a request waiting on a connection attempt: 503 once AUTH is refused
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth async_primes not-the-job-secret;
    async_primes_redis_timeout 10s;
    async_primes_lease 20s;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_AUTH_REDIS_PORT};
my $post = "POST /sumPrime HTTP/1.0\r\nContent-Type: application/json\r\n"
           . "Content-Length: 15\r\n\r\n{\"a\":1,\"b\":100}";

my ($pid) = ap_redis($redis, 'INFO', 'server') =~ /process_id:(\d+)/;

# While Redis is paused, the kernel still accepts the next attempt's
# connection, and its AUTH waits for a reply: a POST that is not answered
# at once waits behind it.  Redis then refuses the AUTH as soon as it runs.
kill 'STOP', $pid or die "cannot pause redis: $!\n";

my ($sock, $t0);
eval {
    my $until = Time::HiRes::time() + 15;
    while (1) {
        die "no POST waited on a connection attempt\n"
            if Time::HiRes::time() > $until;
        $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
            or die "cannot connect to nginx: $!\n";
        print $sock $post;
        last unless IO::Select->new($sock)->can_read(0.3);
        close $sock;
    }
};
my $err = $@;
$t0 = Time::HiRes::time();
kill 'CONT', $pid;
die $err if $err;

# the connect timer would answer it after about 10 s
IO::Select->new($sock)->can_read(9)
    or die "the waiting POST was not answered in 9 s\n";
my $took = Time::HiRes::time() - $t0;
my $answer = do { local $/; <$sock> };

die "the waiting POST got " . (split /\r\n/, $answer)[0] . ", not 503\n"
    unless $answer =~ m{^HTTP/1\.\d 503 };
die sprintf("the 503 came %.2f s after Redis ran again\n", $took)
    if $took > 5;
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 503
--- error_log
refused AUTH: WRONGPASS



=== TEST 6: async_primes_redis_database: the records are in that database
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth async_primes job-secret;
    async_primes_redis_timeout 5s;
    async_primes_redis_database 3;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $redis = $ENV{TEST_NGINX_AUTH_REDIS_PORT};

my $id = ap_post_job($port, 1, 100);
ap_poll_until($port, $id, 'FINISHED', 10);

my $key = "async_primes:job:$id";
die "the record is not in database 3\n"
    unless ap_redis($redis, { db => 3 }, 'EXISTS', $key) == 1;
die "the record is in database 0\n"
    unless ap_redis($redis, 'EXISTS', $key) == 0;

$block->set_value("request", "GET /sumPrime/$id");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"1060"}\n));
--- request
GET /sumPrime/placeholder
--- error_code: 200
--- no_error_log
[error]



=== TEST 7: a database Redis does not have: 503, SELECT refused
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth async_primes job-secret;
    async_primes_redis_database 99;
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 503
--- response_headers
Retry-After: 1
--- error_log
async_primes: redis "127.0.0.1:
refused SELECT: ERR DB index is out of range, retrying in the background



=== TEST 8: Redis wants a password and none is configured: SCRIPT LOAD refused
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
--- request
POST /sumPrime
{"a":1,"b":100}
--- error_code: 503
--- response_headers
Retry-After: 1
--- error_log
refused SCRIPT LOAD: NOAUTH Authentication required, retrying in the background



=== TEST 9: a user that may not subscribe: jobs still work, and the log says why polls are not woken
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_AUTH_REDIS_PORT;
    async_primes_redis_auth nosub sub-secret;
    async_primes_redis_timeout 5s;
--- init
package main;
my $redis = $ENV{TEST_NGINX_AUTH_REDIS_PORT};
ap_redis($redis, 'ACL', 'SETUSER', 'nosub', 'reset',
         (grep { $_ ne '+subscribe' } @$main::AclUser), '>sub-secret');
my $port = $ENV{TEST_NGINX_SERVER_PORT};
# the user may be newer than the workers' first attempts
my ($id) = ap_post_settles($port, 202, 10)->{content}
           =~ /"requestId":"([^"]+)"/;
ap_poll_until($port, $id, 'FINISHED', 10);
$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "payload":"1060"
--- error_log eval
qr/\[error\] .*async_primes: redis "127\.0\.0\.1:\d+" \(subscriber\) refused SUBSCRIBE: NOPERM this user has no permissions to run the 'subscribe' command, retrying in the background$/
