
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_async_primes_sum.h"
#include "ngx_async_primes_prefix.h"
#include "ngx_async_primes_sum_internal.h"
#include "tap.h"


/*
 * ngx_async_primes_sum() picks one of three methods by its cost model: the
 * segmented sieve with every prime up to isqrt(b), the sieve with the
 * primes up to 2^16 and then Miller-Rabin, or S(b) - S(a - 1) with the
 * prefix sums.  Each method is forced here through the internal entry and
 * checked against published sums, against each other and against this
 * file's own primality test, which uses other code and, below 2^32, other
 * bases; then the automatic choice, the split into parts, the cost model,
 * the progress and the stop flag.
 *
 * The sieve's setup grows with isqrt(b): about 0.4 s near 10^18 and 1.7 s
 * near 2^64, so the sieve is forced that high only once.
 */


#define M64     18446744073709551615ULL

#define SIEVE   NGX_ASYNC_PRIMES_SUM_SIEVE
#define MR      NGX_ASYNC_PRIMES_SUM_MR
#define PREFIX  NGX_ASYNC_PRIMES_SUM_PREFIX
#define AUTO    NGX_ASYNC_PRIMES_SUM_AUTO


typedef ngx_async_primes_uint128_t  u128;


static const char *dec(u128 v, char *buf);
static uint64_t rnd(void);
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m);
static int is_prime(uint64_t n);
static u128 naive(uint64_t a, uint64_t b);
static u128 sum_by(uint64_t a, uint64_t b, ngx_async_primes_sum_method_e m);
static u128 sum(uint64_t a, uint64_t b);
static int is_sum(uint64_t a, uint64_t b, const char *expected);
static int is_sum_by(uint64_t a, uint64_t b, ngx_async_primes_sum_method_e m,
    const char *expected);
static void test_decimal(void);
static void test_is_prime(void);
static void test_references(void);
static void test_method_references(void);
static void test_edges(void);
static void test_top(void);
static void test_windows(void);
static void test_methods(void);
static void test_paths(void);
static void test_split(void);
static void test_cost(void);
static void test_ctx(void);
static void *worker(void *data);
static void test_stop(const char *what, ngx_async_primes_sum_method_e m,
    uint64_t a, uint64_t b, int moves);


static uint64_t  rnd_state = 0x9e3779b97f4a7c15ULL;

static const char  *names[] = { "auto", "sieve", "Miller-Rabin", "prefix" };


int
main(void)
{
    test_decimal();
    test_is_prime();
    test_references();
    test_method_references();
    test_edges();
    test_top();
    test_windows();
    test_methods();
    test_paths();
    test_split();
    test_cost();
    test_ctx();

    test_stop("sieve", SIEVE, 1, 1ULL << 40, 1);
    test_stop("Miller-Rabin", MR, 1ULL << 63, (1ULL << 63) + (1ULL << 40), 1);

    /* stopped while it finds the 5 * 10^7 sieving primes up to 2^30 */
    test_stop("sieve setup", SIEVE, 1ULL << 60, (1ULL << 60) + (1ULL << 40),
              0);

    return tap_done();
}


static const char *
dec(u128 v, char *buf)
{
    buf[ngx_async_primes_uint128_to_decimal(v, buf)] = '\0';

    return buf;
}



static uint64_t
rnd(void)
{
    return tap_rnd(&rnd_state);
}


static uint64_t
mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t) ((u128) a * b % m);
}


/*
 * Trial division for small n; above, Miller-Rabin with plain 128-bit
 * remainders and the seven bases of Jim Sinclair for every n, where the
 * engine uses Montgomery arithmetic and other bases below 2^32.
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
sum_by(uint64_t a, uint64_t b, ngx_async_primes_sum_method_e m)
{
    int   rc;
    u128  s;

    rc = ngx_async_primes_sum_method(a, b, m, &s, NULL);

    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        tap_diag("%s [%llu, %llu] returned %d", names[m],
                 (unsigned long long) a, (unsigned long long) b, rc);
        return (u128) -1;
    }

    return s;
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


static int
is_sum_by(uint64_t a, uint64_t b, ngx_async_primes_sum_method_e m,
    const char *expected)
{
    int     ok;
    char    buf[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    double  t;

    t = tap_now();
    dec(sum_by(a, b, m), buf);
    t = tap_now() - t;

    ok = tap_ok(strcmp(buf, expected) == 0, "%s: [%llu, %llu] = %s",
                names[m], (unsigned long long) a, (unsigned long long) b,
                expected);

    if (!ok) {
        tap_diag("got %s", buf);
    }

    if (t > 0.1) {
        tap_diag("took %.3f s", t);
    }

    return ok;
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


/* the engine's Miller-Rabin, its Montgomery arithmetic, against this file */

static void
test_is_prime(void)
{
    int       i, bad;
    uint64_t  n;

    static const uint64_t  special[] = {
        0, 1, 2, 3, 4, 5, 61, 3721, 3599, 3481, 3727,

        /* strong pseudoprimes to base 2, and to several bases */
        2047, 3277, 4033, 4681, 8321, 25326001, 3215031751ULL,
        2152302898747ULL, 3474749660383ULL, 341550071728321ULL,
        3825123056546413051ULL,

        /* Carmichael numbers */
        561, 41041, 825265, 321197185, 5394826801ULL,
        232250619601ULL, 9746347772161ULL,

        /* squares of primes, primes near powers of 2 */
        65537ULL * 65537, 4294967291ULL * 4294967291ULL,
        4294967279ULL * 4294967291ULL, 4294967291ULL, 4294967311ULL,
        2305843009213693951ULL, M64 - 58, M64 - 82, M64, M64 - 1,
        (1ULL << 63) + 29, 9223372036854775783ULL, 1000000000000000003ULL
    };

    bad = 0;

    for (i = 0; i < (int) (sizeof(special) / sizeof(special[0])); i++) {
        n = special[i];

        if (ngx_async_primes_is_prime(n) != is_prime(n) && bad++ < 5) {
            tap_diag("is_prime(%llu): engine %d, here %d",
                     (unsigned long long) n, ngx_async_primes_is_prime(n),
                     is_prime(n));
        }
    }

    for (i = 0; i < 20000; i++) {
        n = rnd() >> (rnd() % 64);

        if (ngx_async_primes_is_prime(n) != is_prime(n) && bad++ < 5) {
            tap_diag("is_prime(%llu): engine %d, here %d",
                     (unsigned long long) n, ngx_async_primes_is_prime(n),
                     is_prime(n));
        }
    }

    tap_ok(bad == 0, "Miller-Rabin agrees on pseudoprimes, Carmichael "
           "numbers, squares and 20000 random numbers");
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

    t = tap_now();
    is_sum(1, 1000000000, "24739512092254535");
    tap_diag("sum up to 10^9 took %.3f s", tap_now() - t);

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

    /* more than 64 bits: S(10^11) */

    is_sum(1, 100000000000ULL, "201467077743744681014");
}


/*
 * Each method against published sums; the sieve up to 10^10 would take
 * over 2 s, so only the prefix sums go that far.  Below 2^32 * 2^32 the
 * Miller-Rabin method is the sieve, since it sieves with the primes up to
 * 2^16 anyway.
 */

static void
test_method_references(void)
{
    int  m;

    static const ngx_async_primes_sum_method_e  all[] = {
        SIEVE, MR, PREFIX, AUTO
    };

    for (m = 0; m < 4; m++) {
        is_sum_by(1, 1999999, all[m], "142913828922");
        is_sum_by(4294967296ULL - 1000, 4294967296ULL + 1000, all[m],
                  "395137002452");
        is_sum_by(1000000000000ULL, 1000000000000ULL + 100000, all[m],
                  "3614000181007876");
    }

    is_sum_by(1, 1000000000, SIEVE, "24739512092254535");
    is_sum_by(1, 1000000000, PREFIX, "24739512092254535");
    is_sum_by(1, 10000000000ULL, PREFIX, "2220822432581729238");
    is_sum_by(1, 10000000000ULL, AUTO, "2220822432581729238");

    is_sum_by(1ULL << 50, (1ULL << 50) + 200000, SIEVE,
              "6482931664171595878");
    is_sum_by(1ULL << 50, (1ULL << 50) + 200000, MR,
              "6482931664171595878");

    is_sum_by(1ULL << 63, (1ULL << 63) + 10000, MR,
              "2158269056624018780760");
    is_sum_by(1000000000000000000ULL, 1000000000000000000ULL + 20000, MR,
              "494000000000005049698");
}


/* small cases through every method, against trial division */

static void
test_edges(void)
{
    int       i, m, bad;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    u128      got, expected;
    uint64_t  a, b;

    static const uint64_t  cases[][2] = {
        /* a = b = prime, a = b = composite */
        { 2, 2 }, { 3, 3 }, { 5, 5 }, { 7, 7 }, { 89, 89 }, { 97, 97 },
        { 1000003, 1000003 }, { 1000000007, 1000000007 },
        { 1, 1 }, { 4, 4 }, { 49, 49 }, { 91, 91 }, { 7921, 7921 },
        { 1000001, 1000001 },

        /* no primes: gaps, 0 and 1 */
        { 0, 0 }, { 0, 1 }, { 24, 28 }, { 114, 126 }, { 1328, 1360 },
        { 370262, 370372 },

        /* from 0 and 1, around the wheel and the pre-sieved primes */
        { 1, 2 }, { 0, 2 }, { 1, 3 }, { 2, 3 }, { 1, 5 }, { 5, 7 },
        { 1, 6 }, { 1, 7 }, { 6, 7 }, { 7, 8 }, { 1, 29 }, { 1, 30 },
        { 1, 31 }, { 29, 31 }, { 30, 60 }, { 59, 61 }, { 83, 97 },
        { 89, 89 }, { 1, 90 }, { 88, 101 }, { 1, 1000 }, { 960, 1000 },

        /* empty: a > b */
        { 10, 9 }, { 1000, 1 }
    };

    for (m = 0; m < 4; m++) {
        bad = 0;

        for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++) {
            a = cases[i][0];
            b = cases[i][1];

            got = sum_by(a, b, m);
            expected = naive(a, b);

            if (got != expected && bad++ < 5) {
                tap_diag("[%llu, %llu]: got %s, expected %s",
                         (unsigned long long) a, (unsigned long long) b,
                         dec(got, b1), dec(expected, b2));
            }
        }

        tap_ok(bad == 0, "%s: primes, composites, gaps, 0, 1, 2, a > b",
               names[m]);
    }

    /*
     * Windows wide enough for the pre-sieve patterns, which strike the
     * primes 7 to 89 themselves, starting among them.
     */

    bad = 0;

    for (i = 0; i < 100; i++) {
        a = (i < 92) ? (uint64_t) i : rnd() % 200;
        b = 2000000 + rnd() % 1000000;

        got = sum_by(a, b, SIEVE);
        expected = sum_by(a, b, PREFIX);

        if (got != expected && bad++ < 5) {
            tap_diag("[%llu, %llu]: sieve %s, prefix %s",
                     (unsigned long long) a, (unsigned long long) b,
                     dec(got, b1), dec(expected, b2));
        }
    }

    tap_ok(bad == 0, "wide windows from 0 to 200: sieve = prefix sums");
}


/*
 * Windows touching 2^64 - 1: [2^64 - 100, 2^64 - 1] holds 3 primes,
 * [2^64 - 1000, 2^64 - 1] 21.  Once through the sieve, whose sieving
 * primes then go up to 2^32 - 5.
 */

static void
test_top(void)
{
    int  m;

    static const ngx_async_primes_sum_method_e  all[] = { MR, AUTO };

    for (m = 0; m < 2; m++) {
        is_sum_by(M64 - 99, M64, all[m], "55340232221128654611");
        is_sum_by(M64 - 999, M64, all[m], "387381625547900573443");
        is_sum_by(M64, M64, all[m], "0");
        is_sum_by(M64 - 58, M64 - 58, all[m], "18446744073709551557");
        is_sum_by(M64 - 57, M64, all[m], "0");
    }

    is_sum_by(M64 - 999, M64, SIEVE, "387381625547900573443");
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
 * The methods against each other on random ranges at every magnitude:
 * the sieve up to 2^50 (its setup stays below 20 ms), the prefix sums up
 * to 2^32, Miller-Rabin everywhere, the naive sum where narrow enough;
 * widths up to a few segments, so that segment and bucket boundaries fall
 * anywhere.
 */

static void
test_methods(void)
{
    int       i, k, bad, checks;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    u128      s, mr, pf, expected;
    double    t;
    uint64_t  a, b, w;

    bad = 0;
    checks = 0;
    t = tap_now();

    for (i = 0; i < 120; i++) {

        /* narrow ones at any magnitude, wide ones where MR is the sieve */

        k = (i % 3 == 2) ? 8 + (int) (rnd() % 25) : 8 + (int) (rnd() % 43);
        a = (rnd() >> (64 - k)) | (1ULL << (k - 1));
        w = rnd() % ((i % 3 == 0) ? 100 : (i % 3 == 1) ? 50000 : 20000000);
        b = a + w;

        s = sum_by(a, b, SIEVE);

        if (b >= (1ULL << 32)) {
            mr = sum_by(a, b, MR);

            if (s != mr && bad++ < 5) {
                tap_diag("[%llu, %llu]: sieve %s, Miller-Rabin %s",
                         (unsigned long long) a, (unsigned long long) b,
                         dec(s, b1), dec(mr, b2));
            }

            checks++;

        } else {
            pf = sum_by(a, b, PREFIX);

            if (s != pf && bad++ < 5) {
                tap_diag("[%llu, %llu]: sieve %s, prefix %s",
                         (unsigned long long) a, (unsigned long long) b,
                         dec(s, b1), dec(pf, b2));
            }

            checks++;
        }

        if (w <= 5000) {
            expected = naive(a, b);

            if (s != expected && bad++ < 5) {
                tap_diag("[%llu, %llu]: sieve %s, naive %s",
                         (unsigned long long) a, (unsigned long long) b,
                         dec(s, b1), dec(expected, b2));
            }

            checks++;
        }
    }

    tap_ok(bad == 0, "sieve against Miller-Rabin, the prefix sums, trial "
           "division: 120 random ranges up to 2^50 (%d checks)", checks);
    tap_diag("took %.3f s", tap_now() - t);

    /* Miller-Rabin alone above, against trial division */

    bad = 0;

    for (i = 0; i < 60; i++) {
        k = 51 + (int) (rnd() % 14);
        a = (k == 64) ? M64 - rnd() % (1ULL << 40)
                      : (rnd() >> (64 - k)) | (1ULL << (k - 1));
        b = (a + 3000 < a) ? M64 : a + rnd() % 3000;

        mr = sum_by(a, b, MR);
        expected = naive(a, b);

        if (mr != expected && bad++ < 5) {
            tap_diag("[%llu, %llu]: Miller-Rabin %s, naive %s",
                     (unsigned long long) a, (unsigned long long) b,
                     dec(mr, b1), dec(expected, b2));
        }
    }

    tap_ok(bad == 0, "Miller-Rabin matches trial division on 60 random "
           "windows from 2^50 to 2^64");

    /* the prefix sums across the sieve's segments, the sieve from 1 */

    a = 1000000000ULL + rnd() % 1000000;
    b = a + 20000000;

    tap_ok(sum_by(a, b, SIEVE) == sum_by(a, b, PREFIX),
           "sieve = prefix sums on [%llu, %llu]", (unsigned long long) a,
           (unsigned long long) b);

    b = 30000000 + rnd() % 1000000;

    tap_ok(sum_by(1, b, SIEVE) == sum_by(1, b, PREFIX),
           "sieve = prefix sums on [1, %llu]", (unsigned long long) b);
}


/*
 * The same window in one piece and in pieces, and split at random points;
 * a segment is 2^18 bytes of 30 numbers.
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
        /* sieving primes up to 10^6: small and medium ones */
        { 1000000000000ULL, 200000, 10000 },
        /* up to 3.2 * 10^7: large ones in buckets */
        { 1000000000000000ULL, 1200000, 100000 },
        /* up to 2^25 - 1 */
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

    whole = sum_by(a, b, SIEVE);
    parts = naive(a, b);

    if (!tap_ok(whole == parts, "[%llu, %llu] sieve = naive",
                (unsigned long long) a, (unsigned long long) b))
    {
        tap_diag("got %s, expected %s", dec(whole, b1), dec(parts, b2));
    }

    bad = 0;

    for (i = 0; i < 20; i++) {
        a = rnd() % 1000;
        b = a + 2000000 + rnd() % 1000000;
        m = a + rnd() % (b - a);

        whole = sum_by(a, b, SIEVE);
        parts = sum_by(a, m, SIEVE) + sum_by(m + 1, b, SIEVE);

        if (whole != parts && bad++ == 0) {
            tap_diag("[%llu, %llu] split at %llu: %s against %s",
                     (unsigned long long) a, (unsigned long long) b,
                     (unsigned long long) m, dec(whole, b1), dec(parts, b2));
        }
    }

    tap_ok(bad == 0, "sums add up across segment boundaries");
}


/*
 * Parts: contiguous, in order, none empty, covering [a, b], at most n; and
 * their sums add up to the whole where that is quick to check.
 */

static void
test_split(void)
{
    int       i, ok;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    u128      whole, parts;
    unsigned  n, k, m;
    uint64_t  a, b, lo[16], hi[16];

    static const struct {
        uint64_t  a;
        uint64_t  b;
        unsigned  min;    /* parts expected with n = 8, at least */
        int       sum;    /* quick enough to add up */
    } cases[] = {
        { 1, 100, 1, 1 },
        { 0, 10, 1, 1 },
        { 5, 5, 1, 1 },
        { M64, M64, 1, 1 },
        { 1, 1000000000ULL, 1, 1 },
        { 1000000000000ULL, 1004000000000ULL, 1, 0 },
        { 1ULL << 40, (1ULL << 40) + 200000000, 4, 1 },
        { 1000000000000000ULL, 1000004000000000ULL, 4, 0 },
        { 1000000000000000000ULL, 1000000010000000000ULL, 4, 0 },
        { M64 - 200000, M64, 4, 1 },
        { M64 - 100000000, M64, 1, 0 },
        { 1, M64, 1, 0 }
    };

    for (i = 0; i < (int) (sizeof(cases) / sizeof(cases[0])); i++) {
        a = cases[i].a;
        b = cases[i].b;

        for (n = 1; n <= 8; n++) {
            memset(lo, 0xff, sizeof(lo));
            memset(hi, 0xff, sizeof(hi));

            m = ngx_async_primes_sum_split(a, b, n, lo, hi);

            ok = (m >= 1 && m <= n && lo[0] == a && hi[m - 1] == b);

            for (k = 0; ok && k < m; k++) {
                ok = (lo[k] <= hi[k] && (k == 0 || lo[k] == hi[k - 1] + 1));
            }

            if (n == 8 && ok) {
                ok = (m >= cases[i].min);
            }

            if (!tap_ok(ok, "[%llu, %llu] in at most %u parts: %u",
                        (unsigned long long) a, (unsigned long long) b, n, m))
            {
                for (k = 0; k < m && k < 16; k++) {
                    tap_diag("part %u: [%llu, %llu]", k,
                             (unsigned long long) lo[k],
                             (unsigned long long) hi[k]);
                }
            }

            if (n != 4 || !cases[i].sum) {
                continue;
            }

            whole = sum(a, b);
            parts = 0;

            for (k = 0; k < m; k++) {
                parts += sum(lo[k], hi[k]);
            }

            if (!tap_ok(whole == parts, "[%llu, %llu]: the %u parts add up",
                        (unsigned long long) a, (unsigned long long) b, m))
            {
                tap_diag("whole %s, parts %s", dec(whole, b1),
                         dec(parts, b2));
            }

        }
    }
}


static void
test_cost(void)
{
    int       ok;
    uint64_t  a, w, c, c1, c2;

    static const struct {
        uint64_t                       a;
        uint64_t                       b;
        ngx_async_primes_sum_method_e  method;
        uint64_t                       max;    /* microseconds */
    } cases[] = {
        { 1, 1000000000000ULL, PREFIX, 1000000 },
        { M64 - 1000000, M64, MR, 300000 },
        { 1000000000000000000ULL, 1000000000100000000ULL, SIEVE, 2000000 },
        { 1000000000000000000ULL, 1000000000000100000ULL, MR, 100000 },
        { (1ULL << 40), (1ULL << 40) + 100000000, SIEVE, 200000 }
    };

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        c1 = ngx_async_primes_sum_cost(cases[c].a, cases[c].b);

        tap_ok(ngx_async_primes_sum_pick(cases[c].a, cases[c].b)
               == cases[c].method && c1 > 0 && c1 <= cases[c].max,
               "[%llu, %llu] goes by %s, %llu us",
               (unsigned long long) cases[c].a,
               (unsigned long long) cases[c].b, names[cases[c].method],
               (unsigned long long) c1);
    }

    /* the chosen method is the cheapest; more numbers never cost less */

    ok = 1;

    for (c = 0; c < 200; c++) {
        a = rnd() >> (rnd() % 64);
        w = rnd() >> (rnd() % 64 | 20);

        if (a == 0 || a + 2 * w < a) {
            continue;
        }

        c1 = ngx_async_primes_sum_cost(a, a + w);
        c2 = ngx_async_primes_sum_cost(a, a + 2 * w);

        if (c1 == 0 || c2 < c1
            || c1 > ngx_async_primes_sum_method_cost(a, a + w, SIEVE)
            || c1 > ngx_async_primes_sum_method_cost(a, a + w, MR)
            || c1 > ngx_async_primes_sum_method_cost(a, a + w, PREFIX))
        {
            if (ok) {
                tap_diag("[%llu, %llu]: %llu us, doubled %llu us",
                         (unsigned long long) a, (unsigned long long) (a + w),
                         (unsigned long long) c1, (unsigned long long) c2);
            }

            ok = 0;
        }
    }

    tap_ok(ok, "costs positive, growing with the width, the cheapest "
           "method's");

    tap_ok(ngx_async_primes_sum_cost(10, 9) == 0, "a > b costs nothing");
}


static void
test_ctx(void)
{
    int                          rc, m;
    u128                         s;
    ngx_async_primes_sum_ctx_t   ctx;

    memset(&ctx, 0xff, sizeof(ctx));
    ctx.stop = 0;

    for (m = 0; m < 4; m++) {
        memset(&ctx, 0xff, sizeof(ctx));
        ctx.stop = 0;

        rc = ngx_async_primes_sum_method(1000, 2000000, m, &s, &ctx);
        tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 1999001
               && ctx.done == 1999001 && s == 142913828922ULL - 76127,
               "%s: done = total = b - a + 1", names[m]);
    }

    rc = ngx_async_primes_sum(0, 10, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 10
           && ctx.done == 10, "a = 0 counts from 1");

    rc = ngx_async_primes_sum(1ULL << 62, (1ULL << 62) + 999, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 1000
           && ctx.done == 1000, "Miller-Rabin: done = total = b - a + 1");

    rc = ngx_async_primes_sum(M64 - 10, M64, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && ctx.total == 11
           && ctx.done == 11, "done = total at 2^64 - 1");

    rc = ngx_async_primes_sum(10, 9, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && s == 0 && ctx.total == 0
           && ctx.done == 0, "a > b: nothing to do");

    ctx.stop = 1;

    for (m = 0; m < 4; m++) {
        rc = ngx_async_primes_sum_method(1, 1ULL << 40, m, &s, &ctx);
        tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED
               && ctx.total == 1ULL << 40, "stop set before: %s stops",
               names[m]);
    }

    rc = ngx_async_primes_sum(1ULL << 63, M64, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED
           && ctx.total == (1ULL << 63), "stop set before: [2^63, 2^64) "
           "stops");

    rc = ngx_async_primes_sum(1, M64, &s, &ctx);
    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED && ctx.total == M64,
           "stop set before: [1, 2^64 - 1] stops");
}


typedef struct {
    uint64_t                        a;
    uint64_t                        b;
    ngx_async_primes_sum_method_e   method;
    int                             rc;
    ngx_async_primes_sum_ctx_t      ctx;
} job_t;


static void *
worker(void *data)
{
    u128    s;
    job_t  *job = data;

    job->rc = ngx_async_primes_sum_method(job->a, job->b, job->method, &s,
                                          &job->ctx);

    return NULL;
}


/* stopped from another thread, while the progress is watched */

static void
test_stop(const char *what, ngx_async_primes_sum_method_e m, uint64_t a,
    uint64_t b, int moves)
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
    job.method = m;

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

    t = tap_now();
    __atomic_store_n(&job.ctx.stop, 1, __ATOMIC_RELAXED);
    pthread_join(tid, NULL);
    t = tap_now() - t;

    tap_ok(job.rc == NGX_ASYNC_PRIMES_SUM_STOPPED, "%s: stopped", what);
    tap_ok(monotonic && (last > 0 || !moves) && job.ctx.total == b - a + 1,
           "%s: progress grows within total", what);

    /* a few milliseconds; generous for sanitizers and busy machines */

    if (!tap_ok(t < 0.5, "%s: stops promptly", what)) {
        tap_diag("took %.3f s", t);
    }

    tap_diag("%s: stopped in %.1f ms at %llu of %llu", what, t * 1000,
             (unsigned long long) last, (unsigned long long) (b - a + 1));
}
