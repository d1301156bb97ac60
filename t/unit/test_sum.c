
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_async_primes_sum.h"
#include "tap.h"


/*
 * The engine picks its method by itself: with r = isqrt(b), a window of at
 * least r / 64 odd numbers, r up to 2^25, is sieved with all the primes up
 * to r ("full"), a narrower one or one above 2^50 is sieved with the primes
 * up to 65535 and the survivors go through Miller-Rabin ("hybrid"); below
 * 2^32 everything is "full".  The windows below are chosen to land on each
 * side, and are checked against each other and against this file's own
 * primality test, which uses other Miller-Rabin bases.
 */


#define M64  18446744073709551615ULL


typedef ngx_async_primes_uint128_t  u128;


static const char *dec(u128 v, char *buf);
static double now(void);
static uint64_t rnd(void);
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m);
static int is_prime(uint64_t n);
static u128 naive(uint64_t a, uint64_t b);
static u128 sum(uint64_t a, uint64_t b);
static int is_sum(uint64_t a, uint64_t b, const char *expected);
static void test_references(void);
static void test_windows(void);
static void test_paths(void);
static void test_decimal(void);
static void test_ctx(void);
static void *worker(void *data);
static void test_stop(const char *what, uint64_t a, uint64_t b);


static uint64_t  rnd_state = 0x9e3779b97f4a7c15ULL;


int
main(void)
{
    test_decimal();
    test_references();
    test_windows();
    test_paths();
    test_ctx();

    test_stop("full sieve", 1, 1ULL << 40);
    test_stop("hybrid sieve", 1ULL << 63, (1ULL << 63) + (1ULL << 40));

    return tap_done();
}


static const char *
dec(u128 v, char *buf)
{
    buf[ngx_async_primes_uint128_to_decimal(v, buf)] = '\0';

    return buf;
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* xorshift64*: reproducible runs */

static uint64_t
rnd(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;

    return rnd_state * 0x2545f4914f6cdd1dULL;
}


static uint64_t
mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t) ((u128) a * b % m);
}


/*
 * Trial division for small n; above, Miller-Rabin with the seven bases of
 * Jim Sinclair, deterministic below 2^64 and unlike the engine's.
 */

static int
is_prime(uint64_t n)
{
    int       i, r, s;
    uint64_t  a, d, e, x, p;

    static const uint64_t  bases[] = {
        2, 325, 9375, 28178, 450775, 9780504, 1795265022
    };

    if (n < 2) {
        return 0;
    }

    if (n < 1000000) {
        for (p = 2; p * p <= n; p++) {
            if (n % p == 0) {
                return 0;
            }
        }

        return 1;
    }

    if (n % 2 == 0) {
        return 0;
    }

    s = 0;

    for (d = n - 1; d % 2 == 0; d /= 2) {
        s++;
    }

    for (i = 0; i < 7; i++) {
        a = bases[i] % n;

        if (a == 0) {
            continue;
        }

        x = 1;

        for (e = d; e; e >>= 1) {
            if (e & 1) {
                x = mulmod(x, a, n);
            }

            a = mulmod(a, a, n);
        }

        if (x == 1 || x == n - 1) {
            continue;
        }

        for (r = 1; r < s; r++) {
            x = mulmod(x, x, n);

            if (x == n - 1) {
                break;
            }
        }

        if (r == s) {
            return 0;
        }
    }

    return 1;
}


static u128
naive(uint64_t a, uint64_t b)
{
    u128      total;
    uint64_t  n;

    total = 0;

    if (a > b) {
        return 0;
    }

    for (n = a; ; n++) {
        if (is_prime(n)) {
            total += n;
        }

        if (n == b) {
            break;
        }
    }

    return total;
}


static u128
sum(uint64_t a, uint64_t b)
{
    int   rc;
    u128  s;

    rc = ngx_async_primes_sum(a, b, &s, NULL);

    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        tap_diag("ngx_async_primes_sum(%llu, %llu) returned %d",
                 (unsigned long long) a, (unsigned long long) b, rc);
        return (u128) -1;
    }

    return s;
}


static int
is_sum(uint64_t a, uint64_t b, const char *expected)
{
    int   ok;
    char  buf[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    dec(sum(a, b), buf);

    ok = tap_ok(strcmp(buf, expected) == 0, "sum [%llu, %llu] = %s",
                (unsigned long long) a, (unsigned long long) b, expected);

    if (!ok) {
        tap_diag("got %s", buf);
    }

    return ok;
}


static void
test_references(void)
{
    double  t;

    is_sum(1, 100, "1060");
    is_sum(1, 10, "17");
    is_sum(0, 10, "17");
    is_sum(2, 2, "2");
    is_sum(1, 2, "2");
    is_sum(2, 3, "5");
    is_sum(3, 3, "3");
    is_sum(1, 1, "0");
    is_sum(0, 0, "0");
    is_sum(0, 1, "0");
    is_sum(4, 4, "0");
    is_sum(9, 9, "0");
    is_sum(24, 28, "0");
    is_sum(97, 97, "97");
    is_sum(91, 91, "0");
    is_sum(10, 1, "0");
    is_sum(M64, 0, "0");
    is_sum(1, 1999999, "142913828922");

    t = now();
    is_sum(1, 1000000000, "24739512092254535");
    tap_diag("sum up to 10^9 took %.3f s", now() - t);

    /* pseudoprimes and squares that the small primes do not catch */

    is_sum(3215031751ULL, 3215031751ULL, "0");
    is_sum(3825123056546413051ULL, 3825123056546413051ULL, "0");
    is_sum(65537ULL * 65537, 65537ULL * 65537, "0");
    is_sum(65537ULL * 65539, 65537ULL * 65539, "0");
    is_sum(4294967291ULL * 4294967291ULL, 4294967291ULL * 4294967291ULL,
           "0");
    is_sum(4294967291ULL, 4294967291ULL, "4294967291");
    is_sum(4294967311ULL, 4294967311ULL, "4294967311");
    is_sum(2305843009213693951ULL, 2305843009213693951ULL,
           "2305843009213693951");

    /* the top: 2^64 - 59 is the largest 64-bit prime, 2^64 - 1 is odd */

    is_sum(M64, M64, "0");
    is_sum(M64 - 58, M64, "18446744073709551557");
    is_sum(M64 - 57, M64, "0");
    is_sum(M64 - 58, M64 - 58, "18446744073709551557");
    is_sum(M64 - 81, M64, "18446744073709551557");
    is_sum(M64 - 82, M64, "36893488147419103090");
    is_sum(M64 - 99, M64, "55340232221128654611");
    is_sum(M64 - 999, M64, "387381625547900573443");

    /* sums checked with sympy */

    is_sum(1ULL << 63, (1ULL << 63) + 10000, "2158269056624018780760");
    is_sum(1000000000000ULL, 1000000000000ULL + 100000, "3614000181007876");
    is_sum(4294967296ULL - 1000, 4294967296ULL + 1000, "395137002452");
    is_sum(1000000000000000000ULL, 1000000000000000000ULL + 20000,
           "494000000000005049698");
    is_sum(1ULL << 50, (1ULL << 50) + 200000, "6482931664171595878");
}


/* random windows against the naive sum, below 2^20 and at every 2^k */

static void
test_windows(void)
{
    int       i, k, bad;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    u128      got, expected;
    uint64_t  a, b, base;

    bad = 0;

    for (i = 0; i < 300; i++) {
        a = rnd() % (1 << 20);
        b = a + rnd() % 3000;

        got = sum(a, b);
        expected = naive(a, b);

        if (got != expected && bad++ == 0) {
            tap_diag("[%llu, %llu]: got %s, expected %s",
                     (unsigned long long) a, (unsigned long long) b,
                     dec(got, b1), dec(expected, b2));
        }
    }

    tap_ok(bad == 0, "300 random windows below 2^20 match trial division");

    /* a prime starts to strike at its square, even at a window's edge */

    bad = 0;

    for (i = 0; i < 100; i++) {
        do {
            base = 17 + rnd() % 65500;
        } while (!is_prime(base));

        base *= base;

        for (k = 0; k < 2; k++) {
            a = k ? base : base - rnd() % 3000;
            b = k ? base + rnd() % 3000 : base;

            got = sum(a, b);
            expected = naive(a, b);

            if (got != expected && bad++ == 0) {
                tap_diag("[%llu, %llu]: got %s, expected %s",
                         (unsigned long long) a, (unsigned long long) b,
                         dec(got, b1), dec(expected, b2));
            }
        }
    }

    tap_ok(bad == 0, "windows ending or starting at a prime square match");

    is_sum(1, 289, "7982");
    is_sum(1, 1018081, "38894309429");

    for (k = 32; k <= 64; k++) {
        bad = 0;

        for (i = 0; i < 4; i++) {
            base = (k == 64) ? M64 : (1ULL << k);
            b = base - rnd() % 100000;
            a = b - rnd() % 2000;

            got = sum(a, b);
            expected = naive(a, b);

            if (got != expected && bad++ == 0) {
                tap_diag("[%llu, %llu]: got %s, expected %s",
                         (unsigned long long) a, (unsigned long long) b,
                         dec(got, b1), dec(expected, b2));
            }
        }

        tap_ok(bad == 0, "random windows below 2^%d match", k);
    }
}


/*
 * The same window in one piece (full sieve) and in pieces narrow enough
 * for the hybrid sieve, and split at random points, segments being 2^18
 * numbers wide.
 */

static void
test_paths(void)
{
    int       i, bad;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    u128      whole, parts;
    uint64_t  a, b, m, step;

    static const struct {
        uint64_t  base;
        uint64_t  width;
        uint64_t  piece;
    } cases[] = {
        /* r = 10^6: full from 15625 odd numbers */
        { 1000000000000ULL, 200000, 10000 },
        /* r = 3.2 * 10^7: full from 494100 odd numbers */
        { 1000000000000000ULL, 1200000, 100000 },
        /* r = 2^25 - 1: about the largest full sieve */
        { (1ULL << 50) - 2300000, 1100000, 100000 }
    };

    for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++) {
        a = cases[i].base + rnd() % 1000000;
        b = a + cases[i].width;
        step = cases[i].piece;

        whole = sum(a, b);
        parts = 0;

        for (m = a; m <= b; m += step) {
            parts += sum(m, (b - m < step) ? b : m + step - 1);
        }

        if (!tap_ok(whole == parts, "[%llu, %llu] whole = in pieces of %llu",
                    (unsigned long long) a, (unsigned long long) b,
                    (unsigned long long) step))
        {
            tap_diag("whole %s, pieces %s", dec(whole, b1), dec(parts, b2));
        }
    }

    a = 1000000000000ULL + rnd() % 1000000;
    b = a + 200000;

    whole = sum(a, b);
    parts = naive(a, b);

    if (!tap_ok(whole == parts, "[%llu, %llu] full sieve = naive",
                (unsigned long long) a, (unsigned long long) b))
    {
        tap_diag("got %s, expected %s", dec(whole, b1), dec(parts, b2));
    }

    bad = 0;

    for (i = 0; i < 20; i++) {
        a = rnd() % 1000;
        b = a + 2000000 + rnd() % 1000000;
        m = a + rnd() % (b - a);

        whole = sum(a, b);
        parts = sum(a, m) + sum(m + 1, b);

        if (whole != parts && bad++ == 0) {
            tap_diag("[%llu, %llu] split at %llu: %s against %s",
                     (unsigned long long) a, (unsigned long long) b,
                     (unsigned long long) m, dec(whole, b1), dec(parts, b2));
        }
    }

    tap_ok(bad == 0, "sums add up across segment boundaries");
}


static void
test_decimal(void)
{
    int     i;
    char    buf[NGX_ASYNC_PRIMES_UINT128_LEN + 8];
    size_t  n;
    u128    v;

    static const char  *expected[] = {
        "0", "1", "9", "10", "18446744073709551615", "18446744073709551616",
        "100000000000000000000000000000000000000",
        "340282366920938463463374607431768211455"
    };

    for (i = 0; i < 8; i++) {
        switch (i) {
        case 0: v = 0; break;
        case 1: v = 1; break;
        case 2: v = 9; break;
        case 3: v = 10; break;
        case 4: v = M64; break;
        case 5: v = (u128) M64 + 1; break;
        case 6: v = (u128) 10000000000000000000ULL * 10000000000000000000ULL;
                break;
        default: v = ~(u128) 0; break;
        }

        memset(buf, 'x', sizeof(buf));
        n = ngx_async_primes_uint128_to_decimal(v, buf);

        if (!tap_ok(n == strlen(expected[i])
                    && memcmp(buf, expected[i], n) == 0 && buf[n] == 'x',
                    "uint128_to_decimal %s", expected[i]))
        {
            tap_diag("got %zu bytes: %.*s", n, (int) n, buf);
        }
    }
}


static void
test_ctx(void)
{
    int                          rc;
    u128                         s;
    ngx_async_primes_sum_ctx_t   ctx;

    memset(&ctx, 0xff, sizeof(ctx));
    ctx.stop = 0;

    rc = ngx_async_primes_sum(1, 2000000, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 2000000
           && ctx.done == 2000000, "full sieve: done = total = b - a + 1");

    rc = ngx_async_primes_sum(0, 10, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 10
           && ctx.done == 10, "a = 0 counts from 1");

    rc = ngx_async_primes_sum(1ULL << 62, (1ULL << 62) + 999, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 1000
           && ctx.done == 1000, "hybrid sieve: done = total = b - a + 1");

    rc = ngx_async_primes_sum(M64 - 10, M64, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 11
           && ctx.done == 11, "done = total at 2^64 - 1");

    rc = ngx_async_primes_sum(10, 9, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && s == 0 && ctx.total == 0
           && ctx.done == 0, "a > b: nothing to do");

    ctx.stop = 1;

    rc = ngx_async_primes_sum(1, 1ULL << 40, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED && ctx.total == 1ULL << 40,
           "stop set before: full sieve stops");

    rc = ngx_async_primes_sum(1ULL << 63, M64, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED
           && ctx.total == (1ULL << 63), "stop set before: hybrid stops");

    rc = ngx_async_primes_sum(1, M64, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED && ctx.total == M64,
           "stop set before: [1, 2^64 - 1] stops");
}


typedef struct {
    uint64_t                     a;
    uint64_t                     b;
    int                          rc;
    ngx_async_primes_sum_ctx_t   ctx;
} job_t;


static void *
worker(void *data)
{
    u128    s;
    job_t  *job = data;

    job->rc = ngx_async_primes_sum(job->a, job->b, &s, &job->ctx);

    return NULL;
}


/* stopped from another thread, while the progress is watched */

static void
test_stop(const char *what, uint64_t a, uint64_t b)
{
    int              i, monotonic;
    job_t            job;
    double           t;
    uint64_t         done, last;
    pthread_t        tid;
    struct timespec  ms = { 0, 1000000 };

    memset(&job, 0, sizeof(job));
    job.a = a;
    job.b = b;

    if (pthread_create(&tid, NULL, worker, &job) != 0) {
        tap_ok(0, "%s: thread started", what);
        return;
    }

    monotonic = 1;
    last = 0;

    for (i = 0; i < 300; i++) {
        nanosleep(&ms, NULL);

        done = __atomic_load_n(&job.ctx.done, __ATOMIC_RELAXED);

        if (done < last || done > b - a + 1) {
            monotonic = 0;
        }

        last = done;
    }

    t = now();
    __atomic_store_n(&job.ctx.stop, 1, __ATOMIC_RELAXED);
    pthread_join(tid, NULL);
    t = now() - t;

    tap_ok(job.rc == NGX_ASYNC_PRIMES_SUM_STOPPED, "%s: stopped", what);
    tap_ok(monotonic && last > 0 && job.ctx.total == b - a + 1,
           "%s: progress grows within total", what);

    /* a few milliseconds; generous for sanitizers and busy machines */

    if (!tap_ok(t < 0.5, "%s: stops promptly", what)) {
        tap_diag("took %.3f s", t);
    }

    tap_diag("%s: stopped in %.1f ms at %llu of %llu", what, t * 1000,
             (unsigned long long) last, (unsigned long long) (b - a + 1));
}
