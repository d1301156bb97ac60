
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ngx_async_primes_prefix.h"

/* links the engine the prefix sums share code with */
#include "ngx_async_primes_sum.h"
#include "tap.h"


/*
 * ngx_async_primes_prefix_sum() answers x below 65536 with a plain sieve
 * and larger x with LMO, whose parameters (y, the segment size, how many
 * segments) all move with x; so it is checked against this file's own
 * sieve exhaustively below the switch, at random x up to 10^7 and around
 * the switch, squares and cubes, then against the published sums up to
 * 10^11 and, higher up, against sieved windows: S(x + w) - S(x) must be
 * the sum of the primes in (x, x + w].
 *
 * S(10^12) = 18435588552550705911377 and S(10^13) =
 * 1699246443377779418889494 are too slow for here; they were checked by
 * hand against a plain Lucy_Hedgehog implementation.
 *
 * A plan shared by threads must give S(hi) - S(lo) whatever the number of
 * threads and whether they run together or one after the other: each
 * thread's units are computed with the sums below them unknown, and the
 * last thread puts them together.
 */


#define SMALL_MAX   5000
#define RANDOM_MAX  10000000
#define RANDOM_N    300


typedef ngx_async_primes_uint128_t  u128;


static const char *dec(u128 v, char *buf);
static uint64_t rnd(void);
static int cmp_u64(const void *a, const void *b);
static unsigned char *composite_table(uint64_t n);
static u128 prefix(uint64_t x);
static u128 window(uint64_t lo, uint64_t hi);
static void test_edges(void);
static void test_small(void);
static void test_random(void);
static void test_special(void);
static void test_references(void);
static void test_windows(void);
static void test_ctx(void);
static void *worker(void *data);
static void test_stop(void);
static void test_plan(void);
static u128 shared(uint64_t hi, uint64_t lo, unsigned n, int together,
    int *rc);
static void *share(void *data);
static void test_plan_stop(void);
static void test_cost(void);


static uint64_t  rnd_state = 0x2545f4914f6cdd1dULL;


int
main(void)
{
    test_edges();
    test_small();
    test_random();
    test_special();
    test_references();
    test_windows();
    test_ctx();
    test_stop();
    test_plan();
    test_plan_stop();
    test_cost();

    return tap_done();
}


static const char *
dec(u128 v, char *buf)
{
    char    tmp[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    size_t  i, n;

    n = 0;

    do {
        tmp[n++] = (char) ('0' + (int) (v % 10));
        v /= 10;
    } while (v);

    for (i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }

    buf[n] = '\0';

    return buf;
}



static uint64_t
rnd(void)
{
    return tap_rnd(&rnd_state);
}


static int
cmp_u64(const void *a, const void *b)
{
    uint64_t  x, y;

    x = *(const uint64_t *) a;
    y = *(const uint64_t *) b;

    return (x > y) - (x < y);
}


/* composite[n] for n <= max; 0 and 1 marked too */

static unsigned char *
composite_table(uint64_t max)
{
    uint64_t        i, j;
    unsigned char  *composite;

    composite = calloc(max + 1, 1);
    if (composite == NULL) {
        return NULL;
    }

    composite[0] = 1;

    if (max >= 1) {
        composite[1] = 1;
    }

    for (i = 2; i * i <= max; i++) {
        if (!composite[i]) {
            for (j = i * i; j <= max; j += i) {
                composite[j] = 1;
            }
        }
    }

    return composite;
}


static u128
prefix(uint64_t x)
{
    u128  sum;

    if (ngx_async_primes_prefix_sum(x, &sum, NULL)
        != NGX_ASYNC_PRIMES_SUM_OK)
    {
        return (u128) -1;
    }

    return sum;
}


/* the sum of the primes in (lo, hi], sieved with the primes up to sqrt(hi) */

static u128
window(uint64_t lo, uint64_t hi)
{
    u128            sum;
    uint64_t        n, i, p, m, root;
    unsigned char  *small, *seg;

    for (root = 1; (root + 1) * (root + 1) <= hi; root++) {
        /* void */
    }

    n = hi - lo;

    small = composite_table(root);
    seg = calloc(n, 1);

    if (small == NULL || seg == NULL) {
        free(small);
        free(seg);
        return (u128) -1;
    }

    /* seg[i] stands for lo + 1 + i */

    for (p = 2; p <= root; p++) {

        if (small[p]) {
            continue;
        }

        m = (lo + 1 + p - 1) / p * p;

        if (m < p * p) {
            m = p * p;
        }

        for ( /* void */ ; m <= hi; m += p) {
            seg[m - lo - 1] = 1;
        }
    }

    sum = 0;

    for (i = 0; i < n; i++) {
        if (!seg[i] && lo + 1 + i >= 2) {
            sum += lo + 1 + i;
        }
    }

    free(small);
    free(seg);

    return sum;
}


static void
test_edges(void)
{
    char  buf[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    tap_ok(prefix(0) == 0, "S(0) = 0, got %s", dec(prefix(0), buf));
    tap_ok(prefix(1) == 0, "S(1) = 0, got %s", dec(prefix(1), buf));
    tap_ok(prefix(2) == 2, "S(2) = 2, got %s", dec(prefix(2), buf));
    tap_ok(prefix(3) == 5, "S(3) = 5, got %s", dec(prefix(3), buf));
    tap_ok(prefix(4) == 5, "S(4) = 5, got %s", dec(prefix(4), buf));
    tap_ok(prefix(5) == 10, "S(5) = 10, got %s", dec(prefix(5), buf));
}


static void
test_small(void)
{
    int             bad;
    u128            sum;
    uint64_t        x, first;
    unsigned char  *composite;
    char            b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char            b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    composite = composite_table(SMALL_MAX);
    if (composite == NULL) {
        tap_ok(0, "no memory for the small sieve");
        return;
    }

    bad = 0;
    first = 0;
    sum = 0;

    for (x = 0; x <= SMALL_MAX; x++) {

        if (!composite[x]) {
            sum += x;
        }

        if (prefix(x) != sum && bad++ == 0) {
            first = x;
            tap_diag("S(%llu) = %s, expected %s", (unsigned long long) x,
                     dec(prefix(x), b1), dec(sum, b2));
        }
    }

    free(composite);

    tap_ok(bad == 0, "S(x) for every x up to %d matches a sieve"
           " (%d wrong, the first at %llu)", SMALL_MAX, bad,
           (unsigned long long) first);
}


static void
test_random(void)
{
    int             bad;
    u128            sum;
    size_t          i;
    uint64_t        xs[RANDOM_N], n;
    unsigned char  *composite;
    char            b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char            b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    for (i = 0; i < RANDOM_N; i++) {
        xs[i] = rnd() % (RANDOM_MAX + 1);
    }

    qsort(xs, RANDOM_N, sizeof(uint64_t), cmp_u64);

    composite = composite_table(RANDOM_MAX);
    if (composite == NULL) {
        tap_ok(0, "no memory for the random sieve");
        return;
    }

    bad = 0;
    sum = 0;
    n = 0;

    for (i = 0; i < RANDOM_N; i++) {

        for ( /* void */ ; n <= xs[i]; n++) {
            if (!composite[n]) {
                sum += n;
            }
        }

        if (prefix(xs[i]) != sum && bad++ < 5) {
            tap_diag("S(%llu) = %s, expected %s",
                     (unsigned long long) xs[i], dec(prefix(xs[i]), b1),
                     dec(sum, b2));
        }
    }

    free(composite);

    tap_ok(bad == 0, "S(x) for %d random x up to %d matches a sieve"
           " (%d wrong)", RANDOM_N, RANDOM_MAX, bad);
}


/*
 * Where the method switches (65536), and squares, cubes and their
 * neighbours, where y, pi(y) and the P2 range move by one.
 */

static void
test_special(void)
{
    int             bad, checked;
    u128            sum;
    size_t          i, k, nx;
    uint64_t        xs[200], base[] = { 65536, 1 << 20, 999983, 4000037,
                                        8000000 };
    uint64_t        r, n;
    unsigned char  *composite;

    nx = 0;

    for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
        for (k = 0; k < 5; k++) {
            xs[nx++] = base[i] + k - 2;
        }
    }

    for (r = 41; r <= 215; r += 29) {
        for (k = 0; k < 3; k++) {
            xs[nx++] = r * r * r + k - 1;
        }
    }

    for (r = 257; r <= 3162; r += 487) {
        for (k = 0; k < 3; k++) {
            xs[nx++] = r * r + k - 1;
        }
    }

    qsort(xs, nx, sizeof(uint64_t), cmp_u64);

    composite = composite_table(xs[nx - 1]);
    if (composite == NULL) {
        tap_ok(0, "no memory for the special sieve");
        return;
    }

    bad = 0;
    checked = 0;
    sum = 0;
    n = 0;

    for (i = 0; i < nx; i++) {

        for ( /* void */ ; n <= xs[i]; n++) {
            if (!composite[n]) {
                sum += n;
            }
        }

        checked++;

        if (prefix(xs[i]) != sum) {
            bad++;
            tap_diag("S(%llu) wrong", (unsigned long long) xs[i]);
        }
    }

    free(composite);

    tap_ok(bad == 0, "S(x) at %d squares, cubes and switch points matches"
           " a sieve", checked);
}


static void
test_references(void)
{
    size_t  i;
    char    buf[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    static const struct {
        uint64_t     x;
        const char  *sum;
    } refs[] = {
        { 10, "17" },
        { 1999999, "142913828922" },
        { 1000000000ULL, "24739512092254535" },
        { 10000000000ULL, "2220822432581729238" },
        { 100000000000ULL, "201467077743744681014" },
    };

    for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        dec(prefix(refs[i].x), buf);

        tap_ok(strcmp(buf, refs[i].sum) == 0, "S(%llu) = %s, got %s",
               (unsigned long long) refs[i].x, refs[i].sum, buf);
    }
}


/* windows of 10^5 at random places from 10^8 to 10^11, near 2^36 and 2^40 */

static void
test_windows(void)
{
    int       i;
    u128      got, want;
    uint64_t  lo, hi, w;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    w = 100000;

    for (i = 0; i < 9; i++) {

        if (i < 6) {
            lo = 100000000ULL + rnd() % (i < 3 ? 10000000000ULL
                                               : 100000000000ULL);

        } else if (i < 8) {
            lo = (1ULL << 36) - w / 2 + i;

        } else {
            lo = (1ULL << 40) - w / 2;
        }

        hi = lo + w;

        got = prefix(hi) - prefix(lo);
        want = window(lo, hi);

        tap_ok(got == want, "S(%llu) - S(%llu) = %s, sieved %s",
               (unsigned long long) hi, (unsigned long long) lo,
               dec(got, b1), dec(want, b2));
    }
}


static void
test_ctx(void)
{
    int                         rc;
    u128                        sum;
    ngx_async_primes_sum_ctx_t  ctx;

    memset(&ctx, 0, sizeof(ctx));

    rc = ngx_async_primes_prefix_sum(10000000000ULL, &sum, &ctx);

    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK
           && sum == (u128) 2220822432581729238ULL,
           "with a context, S(10^10) still right");

    tap_ok(ctx.total > 0 && ctx.done == ctx.total,
           "progress ends complete: %llu of %llu",
           (unsigned long long) ctx.done, (unsigned long long) ctx.total);

    memset(&ctx, 0, sizeof(ctx));

    rc = ngx_async_primes_prefix_sum(1000, &sum, &ctx);

    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_OK && sum == 76127
           && ctx.done == ctx.total,
           "small x with a context: S(1000) = 76127, progress complete");

    memset(&ctx, 0, sizeof(ctx));
    ctx.stop = 1;

    rc = ngx_async_primes_prefix_sum(1000000000000ULL, &sum, &ctx);

    tap_ok(rc == NGX_ASYNC_PRIMES_SUM_STOPPED && sum == 0,
           "a stop flag set beforehand stops S(10^12) (rc %d)", rc);
}


typedef struct {
    ngx_async_primes_sum_ctx_t  ctx;
    uint64_t                    x;
    u128                        sum;
    int                         rc;
    int                         finished;
} worker_t;


static void *
worker(void *data)
{
    worker_t  *w;

    w = data;

    w->rc = ngx_async_primes_prefix_sum(w->x, &w->sum, &w->ctx);

    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);

    return NULL;
}


typedef struct {
    ngx_async_primes_prefix_plan_t  *plan;
    ngx_async_primes_sum_ctx_t       ctx;
    u128                             sum;
    int                              rc;
} share_t;


static void *
share(void *data)
{
    share_t  *t;

    t = data;
    t->rc = ngx_async_primes_prefix_run(t->plan, &t->sum, &t->ctx);

    return NULL;
}


/* S(hi) - S(lo) by a plan for n threads, run together or in turn */

static u128
shared(uint64_t hi, uint64_t lo, unsigned n, int together, int *rc)
{
    u128                             sum;
    unsigned                         i, started;
    share_t                          t[4];
    pthread_t                        tid[4];
    ngx_async_primes_prefix_plan_t  *plan;

    *rc = NGX_ASYNC_PRIMES_SUM_NOMEM;

    plan = ngx_async_primes_prefix_plan(hi, lo, n);
    if (plan == NULL) {
        return 0;
    }

    memset(t, 0, sizeof(t));
    started = 0;

    for (i = 0; i < n; i++) {
        t[i].plan = plan;

        if (together && pthread_create(&tid[i], NULL, share, &t[i]) == 0) {
            started |= 1u << i;

        } else {
            share(&t[i]);
        }
    }

    sum = 0;
    *rc = NGX_ASYNC_PRIMES_SUM_OK;

    for (i = 0; i < n; i++) {
        if (started & (1u << i)) {
            pthread_join(tid[i], NULL);
        }

        sum += t[i].sum;

        if (t[i].rc != NGX_ASYNC_PRIMES_SUM_OK) {
            *rc = t[i].rc;
        }
    }

    ngx_async_primes_prefix_plan_free(plan);

    return sum;
}


static void
test_plan(void)
{
    int       rc, bad, runs;
    u128      got, want;
    size_t    i;
    unsigned  n;
    uint64_t  hi, lo;
    char      b1[NGX_ASYNC_PRIMES_UINT128_LEN + 1];
    char      b2[NGX_ASYNC_PRIMES_UINT128_LEN + 1];

    static const uint64_t  xs[] = {
        65536, 1000000, 123456789, 10000000000ULL, 99999999977ULL,
        1000000000000ULL
    };

    bad = 0;
    runs = 0;

    for (i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
        want = prefix(xs[i]);

        for (n = 1; n <= 4; n++) {
            got = shared(xs[i], 0, n, n % 2 == 0, &rc);
            runs++;

            if ((rc != NGX_ASYNC_PRIMES_SUM_OK || got != want) && bad++ < 3) {
                tap_diag("S(%llu) by %u threads: %s (rc %d), expected %s",
                         (unsigned long long) xs[i], n, dec(got, b1), rc,
                         dec(want, b2));
            }
        }
    }

    tap_ok(bad == 0, "S(x) by a plan for 1 to 4 threads, together or in "
           "turn, is S(x) (%d runs, %d wrong)", runs, bad);

    /* ranges: S(hi) - S(lo) in one plan, lo below and above the switch */

    bad = 0;

    for (i = 0; i < 40; i++) {
        hi = 2 + rnd() % 20000000000ULL;
        lo = (i % 4 == 0) ? rnd() % 70000 : rnd() % hi;

        want = prefix(hi) - prefix(lo);
        got = shared(hi, lo, 1 + i % 3, i % 2, &rc);

        if ((rc != NGX_ASYNC_PRIMES_SUM_OK || got != want) && bad++ < 3) {
            tap_diag("S(%llu) - S(%llu): %s (rc %d), expected %s",
                     (unsigned long long) hi, (unsigned long long) lo,
                     dec(got, b1), rc, dec(want, b2));
        }
    }

    tap_ok(bad == 0, "S(hi) - S(lo) by one plan for 40 random ranges up to "
           "2 * 10^10 (%d wrong)", bad);
}


/*
 * A thread of a plan stopped: every thread ends with the stop, none with a
 * result, and the plan is freed.
 */

static void
test_plan_stop(void)
{
    int                              ok;
    unsigned                         i;
    share_t                          t[2];
    pthread_t                        tid[2];
    ngx_async_primes_prefix_plan_t  *plan;

    plan = ngx_async_primes_prefix_plan(1000000000000000ULL, 0, 2);
    if (plan == NULL) {
        tap_ok(0, "no memory for a plan");
        return;
    }

    memset(t, 0, sizeof(t));

    for (i = 0; i < 2; i++) {
        t[i].plan = plan;

        if (pthread_create(&tid[i], NULL, share, &t[i]) != 0) {
            tap_ok(0, "cannot start a thread");
            return;
        }
    }

    nanosleep(&(struct timespec) { 0, 200000000 }, NULL);

    /* as the server stops a job: one flag after the other */
    __atomic_store_n(&t[1].ctx.stop, 1, __ATOMIC_RELAXED);

    for (i = 0; i < 2; i++) {
        pthread_join(tid[i], NULL);
    }

    ngx_async_primes_prefix_plan_free(plan);

    ok = t[0].rc == NGX_ASYNC_PRIMES_SUM_STOPPED
         && t[1].rc == NGX_ASYNC_PRIMES_SUM_STOPPED
         && t[0].sum == 0 && t[1].sum == 0;

    tap_ok(ok, "one thread of a plan for S(10^15) stopped: both end "
           "stopped, without a sum (rc %d and %d)", t[0].rc, t[1].rc);
}


/*
 * S(10^15) takes seconds: its progress must move and a stop set on the way
 * must end it within a fraction of a second.
 */

static void
test_stop(void)
{
    double     start, stopped;
    uint64_t   d1, d2, total;
    worker_t   w;
    pthread_t  tid;

    memset(&w, 0, sizeof(worker_t));
    w.x = 1000000000000000ULL;

    if (pthread_create(&tid, NULL, worker, &w) != 0) {
        tap_ok(0, "pthread_create");
        return;
    }

    start = tap_now();

    /* wait for the sieve to begin, i.e. done beyond the tables' share */
    do {
        d1 = __atomic_load_n(&w.ctx.done, __ATOMIC_RELAXED);
        total = __atomic_load_n(&w.ctx.total, __ATOMIC_RELAXED);

        if (__atomic_load_n(&w.finished, __ATOMIC_ACQUIRE)) {
            break;
        }

        nanosleep(&(struct timespec) { 0, 5000000 }, NULL);

    } while (tap_now() - start < 3 && (total == 0 || d1 == 0));

    nanosleep(&(struct timespec) { 0, 50000000 }, NULL);

    d2 = __atomic_load_n(&w.ctx.done, __ATOMIC_RELAXED);

    __atomic_store_n(&w.ctx.stop, 1, __ATOMIC_RELAXED);
    stopped = tap_now();

    pthread_join(tid, NULL);

    stopped = tap_now() - stopped;

    tap_ok(total > 0 && d1 > 0 && d2 > d1 && d2 < total,
           "progress of S(10^15) moves: %llu, then %llu of %llu",
           (unsigned long long) d1, (unsigned long long) d2,
           (unsigned long long) total);

    tap_ok(w.rc == NGX_ASYNC_PRIMES_SUM_STOPPED,
           "a stop on the way ends S(10^15): rc %d", w.rc);

    tap_ok(stopped < 0.5, "within %.3f s", stopped);
}


static void
test_cost(void)
{
    int       ok;
    uint64_t  x, prev, c;

    ok = 1;
    prev = 0;

    for (x = 1; x < (1ULL << 63); x *= 3) {
        c = ngx_async_primes_prefix_cost(x);

        if (c == 0 || c < prev) {
            ok = 0;
            tap_diag("cost(%llu) = %llu after %llu", (unsigned long long) x,
                     (unsigned long long) c, (unsigned long long) prev);
        }

        prev = c;
    }

    c = ngx_async_primes_prefix_cost(UINT64_MAX);

    tap_ok(ok && c >= prev, "the cost estimate grows with x");

    c = ngx_async_primes_prefix_cost(10000000000000ULL);

    tap_ok(c > 100000 && c < 10000000,
           "cost(10^13) = %llu us, between 0.1 s and 10 s",
           (unsigned long long) c);
}
