# The features of a submit used together on one location: an
# Idempotency-Key (with and without), async_primes_reuse, async_primes_cache
# and async_primes_job_threads, every combination.  Each submit gets a 202,
# its retry with the key the same id, a reused range its sum at once, and
# every job the right sum.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use POSIX ();
use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_long_string();
no_shuffle();
master_on();
workers(2);

# the sum of the primes in [$a, $b], by a sieve of Eratosthenes
sub prime_sum {
    my ($a, $b) = @_;
    my @composite;
    my $sum = 0;
    for my $i (2 .. $b) {
        next if $composite[$i];
        $sum += $i if $i >= $a;
        for (my $j = $i * $i; $j <= $b; $j += $i) {
            $composite[$j] = 1;
        }
    }
    return $sum;
}

sub post {
    my ($port, $location, $b, $key) = @_;
    return ap_http('POST', "http://127.0.0.1:$port$location",
                   qq({"a":1,"b":$b}),
                   { 'Content-Type' => 'application/json',
                     defined $key ? ('Idempotency-Key' => $key) : () });
}

sub id_of {
    my ($r, $what) = @_;
    my $doc = eval { JSON::PP->new->decode($r->{content} // '') };
    die "$what: no requestId in $r->{status} "
        . ($r->{content} // '') . "\n"
        unless $doc && ref $doc eq 'HASH' && defined $doc->{requestId};
    return $doc;
}

# every combination of the key, reuse and job_threads on this NGINX;
# returns the id of the last job, FINISHED
sub combinations {
    my ($port) = @_;
    my ($last, $n) = (undef, 0);

    for my $reuse (0, 1) {
        for my $threads (1, 2) {
            for my $with_key (0, 1) {
                my $location = "/r${reuse}t${threads}";
                my $what = "reuse $reuse, job_threads $threads, "
                           . ($with_key ? "a key" : "no key");

                # a range no earlier run has stored a sum for
                my $b = 100000 + int(rand(100000)) * 2 + $n++;
                my $sum = prime_sum(1, $b);
                my $key = $with_key ? "k-$$-$b-" . int(rand(1e9)) : undef;

                my $r = post($port, $location, $b, $key);
                die "$what: POST gave $r->{status}: $r->{content}\n"
                    unless $r->{status} == 202;
                my $id = id_of($r, $what)->{requestId};

                if ($with_key) {
                    $r = post($port, $location, $b, $key);
                    die "$what: the retry gave $r->{status}: "
                        . "$r->{content}\n"
                        unless $r->{status} == 202;
                    my $again = id_of($r, "$what, the retry")->{requestId};
                    die "$what: the retry got $again, not $id\n"
                        unless $again eq $id;
                }

                my $body = ap_poll_until($port, $id, 'FINISHED', 20,
                                         $location);
                die "$what: $body is not the sum $sum\n"
                    unless $body =~ /"payload":"$sum"/;

                if ($reuse) {
                    # a new submit of the range: its sum, at once
                    $r = post($port, $location, $b);
                    die "$what: the reused range gave $r->{status}: "
                        . "$r->{content}\n"
                        unless $r->{status} == 200
                               && $r->{content} =~ /"status":"FINISHED"/
                               && $r->{content} =~ /"payload":"$sum"/;
                }

                $last = $id;
            }
        }
    }

    return $last;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", <<'_EOC_');
    location /r0t1 {
        async_primes;
    }

    location /r0t2 {
        async_primes;
        async_primes_job_threads 2;
    }

    location /r1t1 {
        async_primes;
        async_primes_reuse on;
    }

    location /r1t2 {
        async_primes;
        async_primes_reuse on;
        async_primes_job_threads 2;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a key, reuse and job_threads, without the cache
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
package main;
my $id = combinations($ENV{TEST_NGINX_SERVER_PORT});
$block->set_value("request", "GET /r1t2/$id");
--- request
GET /r1t2/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED"
--- no_error_log
[error]
[alert]



=== TEST 2: a key, reuse and job_threads, with the cache
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    async_primes_cache 1m;
--- init
package main;
my $id = combinations($ENV{TEST_NGINX_SERVER_PORT});
$block->set_value("request", "GET /r1t2/$id");
--- request
GET /r1t2/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED"
--- no_error_log
[error]
[alert]



=== TEST 3: Redis lost the scripts (SCRIPT FLUSH): a submit with a key still works, by EVAL
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
package main;
my $port = $ENV{TEST_NGINX_SERVER_PORT};
# the workers have connected and loaded the scripts
post($port, '/r0t1', 100)->{status} == 202 or die "no 202 before the flush\n";
select(undef, undef, undef, 0.2);
ap_redis($ENV{TEST_NGINX_REDIS_PORT}, 'SCRIPT', 'FLUSH') eq 'OK'
    or die "SCRIPT FLUSH failed\n";
my $r = post($port, '/r0t1', 1000, "k-$$-" . int(rand(1e9)));
die "POST gave $r->{status}: $r->{content}\n" unless $r->{status} == 202;
my $id = id_of($r, 'the submit')->{requestId};
ap_poll_until($port, $id, 'FINISHED', 10, '/r0t1');
$block->set_value("request", "GET /r1t2/$id");
--- request
GET /r1t2/placeholder
--- error_code: 200
--- response_body_like: "payload":"76127"
--- error_log
redis has lost the script "submit", sending it again
--- no_error_log
[error]



=== TEST 4: 1000 submits with 50 Idempotency-Keys to a reuse location of two NGINX at once: one id per key, every answer 2xx
--- http_config
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- init
package main;
my ($b_dir, $b) = ap_start_instance(name => 'b', workers => 2,
                                    location => 'async_primes_reuse on;');
my $id = eval {
    my @ports = ($ENV{TEST_NGINX_SERVER_PORT}, $b);
    my @locations = ('/r1t1', '/sumPrime');
    my $run = "$$-" . int(rand(1e9));
    my $dir = "$FindBin::Bin/servroot-b";
    my ($clients, $each, $keys) = (8, 125, 50);

    my @pids;
    for my $c (0 .. $clients - 1) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            open my $out, '>', "$dir/client-$c.txt" or POSIX::_exit(1);
            for my $j (0 .. $each - 1) {
                my $k = ($c * $each + $j) % $keys;
                my $on = ($c + $j) % 2;
                # each key its own range: a reused sum answers no other key
                my $r = post($ports[$on], $locations[$on], 10000 + $k,
                             "stress-$run-$k");
                my ($rid) = ($r->{content} // '') =~ /"requestId":"([^"]+)"/;
                print $out "$k $r->{status} " . ($rid // '-') . "\n";
            }
            close $out;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;

    my (%ids, $answers);
    for my $c (0 .. $clients - 1) {
        open my $in, '<', "$dir/client-$c.txt"
            or die "no answers from client $c\n";
        while (<$in>) {
            my ($k, $status, $rid) = split;
            die "key $k: a submit got $status\n"
                unless $status =~ /^2\d\d$/ && $rid ne '-';
            $ids{$k}{$rid} = 1;
            $answers++;
        }
    }
    die "$answers answers, not 1000\n" unless $answers == 1000;
    die scalar(keys %ids) . " keys answered, not 50\n"
        unless keys %ids == $keys;
    for my $k (sort keys %ids) {
        my $n = keys %{ $ids{$k} };
        die "key $k got $n ids\n" unless $n == 1;
    }

    my ($last) = keys %{ $ids{0} };
    ap_poll_until($b, $last, 'FINISHED', 20);
    $last;
};
my $err = $@;
ap_stop_nginx($b_dir);
die $err if $err;
$block->set_value("request", "GET /r1t1/$id");
--- request
GET /r1t1/placeholder
--- error_code: 200
--- response_body_like: "status":"FINISHED","payload":"\d+"
--- no_error_log
[error]
