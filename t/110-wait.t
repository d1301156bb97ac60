# Long polls: GET <location>/<requestId>?wait=N is held while the job is in
# progress, and answered when it ends (woken through Redis pub/sub, on any
# worker of any NGINX) or when N seconds, at most async_primes_wait_max,
# have passed.  The HTTP client gives up after 10 s: a poll that should be
# woken and is not fails the test.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();

repeat_each(1);
no_long_string();
no_shuffle();
master_on();
workers(2);

# about a second, and its sum (the primes up to 10^14)
our $Job = '100000000000000';
our $JobSum = '157589260710736940541561021';

# several seconds
our $LongJob = '300000000000000';

our $Redis = $ENV{TEST_NGINX_REDIS_PORT};

sub wait_poll {
    my ($port, $id, $wait) = @_;
    return ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id?wait=$wait");
}

# a record in progress held for a minute by a worker elsewhere: nobody here
# computes it or takes it over
sub held_record {
    my ($id) = @_;
    my $now = int(Time::HiRes::time() * 1000);
    ap_redis($Redis, 'SET', "async_primes:job:$id",
             sprintf("ap1 elsewhere %d 1 1000 %d\n", $now + 60000,
                     $now + 60000)
             . qq({"requestId":"$id","status":"IN_PROGRESS","payload":null}\n),
             'EX', 60);
}

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_
    }

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

=== TEST 1: a poll with ?wait= is answered when the job ends, on whichever worker
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = ap_post_job($port, 1, $main::Job);
my $r = wait_poll($port, $id, 30);
die "the waiting poll got $r->{status}: $r->{content}\n"
    unless $r->{status} == 200 && $r->{content} =~ /"status":"FINISHED"/;
$block->set_value("request", "GET /sumPrime/$id?wait=5");
$block->set_value("response_body",
    qq({"requestId":"$id","status":"FINISHED","payload":"$main::JobSum"}\n));
--- error_code: 200
--- response_headers
!Retry-After
--- error_log
async_primes: a poll waits for job
--- no_error_log
[error]



=== TEST 2: a poll with ?wait=1 on a long job is answered in progress when its time is up
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::LongJob);
$block->set_value("request", "GET /sumPrime/$id?wait=1");
--- error_code: 200
--- response_body_like: "status":"IN_PROGRESS"
--- response_headers
!Preference-Applied
--- response_headers_like
Retry-After: \d+
--- no_error_log
[error]



=== TEST 3: async_primes_wait_max caps ?wait=
--- config
    location /sumPrime {
        async_primes;
        async_primes_wait_max 1s;
    }
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::LongJob);
$block->set_value("request", "GET /sumPrime/$id?wait=3600");
--- error_code: 200
--- response_body_like: "status":"IN_PROGRESS"
--- no_error_log
[error]



=== TEST 4: async_primes_wait_max 0 answers ?wait= at once
--- config
    location /sumPrime {
        async_primes;
        async_primes_wait_max 0;
    }
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::LongJob);
$block->set_value("request", "GET /sumPrime/$id?wait=30");
--- error_code: 200
--- response_body_like: "status":"IN_PROGRESS"
--- no_error_log
a poll waits for job
[error]



=== TEST 5: a wait that is not a number of seconds is a 400
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000110?wait=soon
--- error_code: 400
--- response_body
{"error":"wait must be a whole number of seconds"}



=== TEST 6: a poll waiting on another NGINX is woken by the end of the job here
--- init
package main;
my ($b_dir, $b) = ap_start_instance(name => 'b');
my $id = eval {
    # B's worker has subscribed
    ap_post_settles($b, 202, 5);
    my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::Job);
    my $r = wait_poll($b, $id, 30);
    die "B's waiting poll got $r->{status}: $r->{content}\n"
        unless $r->{status} == 200
               && $r->{content} =~ /"payload":"$main::JobSum"/;
    $id;
};
my $err = $@;
ap_stop_nginx($b_dir);
die $err if $err;
$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "status":"FINISHED"



=== TEST 7: a client that goes away while its poll waits ends the wait at once
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::LongJob);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                              Proto => 'tcp')
    or die "cannot connect: $!\n";
print $s "GET /sumPrime/$id?wait=30 HTTP/1.1\r\nHost: localhost\r\n\r\n";
select(undef, undef, undef, 0.5);
close $s;
select(undef, undef, undef, 0.5);
$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "status":"IN_PROGRESS"
--- error_log
a poll waits for job
a waiting poll is gone: the client closed the connection



=== TEST 8: a message lost with the subscription: the waiting polls read their records again once it is back
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
my $id = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
held_record($id);
# the workers have subscribed
ap_post_settles($port, 202, 5);

my $pid = open(my $child, '-|') // die "fork: $!";
if ($pid == 0) {
    my $r = wait_poll($port, $id, 30);
    print "$r->{status} $r->{content}";
    POSIX::_exit(0);
}
select(undef, undef, undef, 0.5);

# the job ends elsewhere while no subscriber hears of it
ap_redis($main::Redis, 'SET', "async_primes:job:$id",
         qq({"requestId":"$id","status":"FINISHED","payload":"42"}\n),
         'EX', 60);
ap_redis($main::Redis, 'CLIENT', 'KILL', 'TYPE', 'pubsub');

my $answer = do { local $/; <$child> };
close $child;
die "the waiting poll got: $answer\n"
    unless $answer =~ /^200 .*"payload":"42"/;
$block->set_value("request", "GET /sumPrime/$id");
--- error_code: 200
--- response_body_like: "payload":"42"
--- no_error_log
[error]



=== TEST 9: a worker that begins to shut down answers its waiting polls at once
--- init
package main;
my ($b_dir, $b) = ap_start_instance(name => 'b');
my $err;
eval {
    ap_post_settles($b, 202, 5);
    my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::LongJob);

    my $pid = open(my $child, '-|') // die "fork: $!";
    if ($pid == 0) {
        my $r = wait_poll($b, $id, 30);
        print "$r->{status} $r->{content}";
        POSIX::_exit(0);
    }
    select(undef, undef, undef, 0.5);

    my $master = ap_nginx_master($b_dir);
    kill 'QUIT', $master;

    my $answer = do { local $/; <$child> };
    close $child;
    die "the waiting poll got: $answer\n"
        unless $answer =~ /^200 .*"status":"IN_PROGRESS"/;

    ap_wait_gone($master, 5) or die "B did not exit within 5s of QUIT\n";
    die "B logged an alert\n" if ap_log_count($b_dir, qr/\[alert\]/);
};
$err = $@;
eval { ap_stop_nginx($b_dir) };
die $err if $err;
--- request
GET /sumPrime/00000000-0000-4000-8000-000000000110
--- error_code: 404



=== TEST 10: Prefer: respond-async, wait=N: a job that ends within N is answered 200 with its result
--- request
POST /sumPrime
{"a":1,"b":10000000000000}
--- more_headers
Prefer: respond-async, wait=30
--- error_code: 200
--- response_headers
Preference-Applied: wait=30
!Retry-After
--- response_body_like: ^\{"requestId":"[0-9a-f-]{36}","status":"FINISHED","payload":"1699246443377779418889494"\}$
--- no_error_log
[error]



=== TEST 11: Prefer: respond-async, wait=1: a longer job is answered 202 when the second is up
--- request
POST /sumPrime
{"a":1,"b":300000000000000}
--- more_headers
Prefer: respond-async, wait=1
--- error_code: 202
--- response_headers
Preference-Applied: respond-async, wait=1
--- response_headers_like
Location: /sumPrime/[0-9a-f-]{36}
--- response_body_like: "status":"IN_PROGRESS"



=== TEST 12: Prefer: wait with async_primes_wait_max 0: 202 at once
--- config
    location /sumPrime {
        async_primes;
        async_primes_wait_max 0;
    }
--- request
POST /sumPrime
{"a":1,"b":100}
--- more_headers
Prefer: respond-async, wait=30
--- error_code: 202
--- response_headers
Preference-Applied: respond-async
--- response_body_like: "status":"IN_PROGRESS"



=== TEST 13: a poll with Prefer: wait=N is held as with ?wait=N, and says so
--- init
package main;
my $id = ap_post_job($ENV{TEST_NGINX_SERVER_PORT}, 1, $main::LongJob);
$block->set_value("request", "GET /sumPrime/$id");
--- more_headers
Prefer: wait=1
--- error_code: 200
--- response_body_like: "status":"IN_PROGRESS"
--- response_headers
Preference-Applied: wait=1
--- error_log
a poll waits for job
