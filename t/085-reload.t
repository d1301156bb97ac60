# nginx -s reload and nginx -s quit while jobs compute: the old workers stay
# until their jobs are written, no request fails meanwhile, and every job
# ends FINISHED with the right sum, without any takeover.

use strict;
use warnings;
use FindBin ();
use lib "$FindBin::Bin/inc";
use AsyncPrimesTest;
use Test::Nginx::Socket 'no_plan';
use File::Temp ();

repeat_each(1);
no_long_string();
no_shuffle();

# about a second each on one core: the primes up to 10^14 (OEIS A046731)
our $Job = '100000000000000';
our $JobSum = '157589260710736940541561021';

our $Redis = $ENV{TEST_NGINX_REDIS_PORT};

sub start_b {
    return ap_start_instance(name => 'reload', workers => 2);
}

# POSTs and polls on $port for $secs seconds in a child; returns a sub that
# waits for it and returns the answers that were not 202 or 200
sub traffic {
    my ($port, $secs) = @_;
    my $out = File::Temp->new;
    my $pid = fork();
    die "fork: $!" unless defined $pid;

    if ($pid == 0) {
        my $until = time + $secs;
        my @bad;
        while (time < $until) {
            my $r = ap_http('POST', "http://127.0.0.1:$port/sumPrime",
                            '{"a":1,"b":1000}',
                            { 'Content-Type' => 'application/json' });
            if ($r->{status} != 202) {
                push @bad, "POST: $r->{status} $r->{content}";
                next;
            }
            my ($id) = $r->{content} =~ /"requestId":"([^"]+)"/;
            $r = ap_http('GET', "http://127.0.0.1:$port/sumPrime/$id");
            push @bad, "GET: $r->{status} $r->{content}"
                if $r->{status} != 200;
        }
        open my $fh, '>', $out->filename;
        print $fh map { "$_\n" } @bad;
        close $fh;
        POSIX::_exit(0);
    }

    return sub {
        waitpid($pid, 0);
        open my $fh, '<', $out->filename or return ('no report');
        return <$fh>;
    };
}

sub check_sum {
    my ($doc) = @_;
    die "wrong sum: $doc" unless $doc =~ /"status":"FINISHED","payload":"$JobSum"/;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", <<'_EOC_');
    async_primes_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
_EOC_

    $block->set_value("config", <<'_EOC_');
    location /sumPrime {
        async_primes;
    }
_EOC_

    $block->set_value("request",
                      "GET /sumPrime/00000000-0000-4000-8000-000000000000");
    $block->set_value("error_code", 404);
});

run_tests();

__DATA__

=== TEST 1: reload while jobs compute
--- init
package main;
my ($dir, $port) = start_b();
eval {
    my @old = ap_nginx_workers($dir);
    my $done = traffic($port, 3);
    my @ids = map { ap_post_job($port, 1, $main::Job) } 1 .. 4;

    kill 'HUP', ap_nginx_master($dir);

    my @bad = $done->();
    die "requests failed during the reload:\n@bad" if @bad;

    check_sum(ap_poll_until($port, $_, 'FINISHED', 60)) for @ids;

    ap_wait_gone($_, 30) or die "old worker $_ never exited\n" for @old;

    die "a job was taken over\n" if ap_log_count($dir, qr/taken over/);
    die "a job was abandoned\n" if ap_log_count($dir, qr/abandoned/);
    die "no graceful shutdown\n"
        unless ap_log_count($dir, qr/gracefully shutting down/);
};
my $err = $@;
ap_stop_nginx($dir);
die $err if $err;



=== TEST 2: quit while jobs compute: the jobs are written before NGINX exits
--- init
package main;
my ($dir, $port) = start_b();
eval {
    my @ids = map { ap_post_job($port, 1, $main::Job) } 1 .. 4;
    my $master = ap_nginx_master($dir);

    kill 'QUIT', $master;
    ap_wait_gone($master, 60) or die "NGINX did not exit after QUIT\n";

    for my $id (@ids) {
        my $doc = ap_redis($main::Redis, 'GET', "async_primes:job:$id");
        check_sum($doc // '(none)');
    }

    die "a job was abandoned\n" if ap_log_count($dir, qr/abandoned/);
};
my $err = $@;
eval { ap_stop_nginx($dir) };
die $err if $err;
