
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_async_primes_prefix.h"
#include "ngx_async_primes_sum_internal.h"


/*
 * S(x), the sum of the primes up to x, by the method of Lagarias, Miller
 * and Odlyzko (LMO) carried over from counting to summing: every "count of
 * numbers" becomes a "sum of numbers" and every leaf is weighted by the
 * product of the primes that built it.
 *
 * Notation: p_1 = 2 < p_2 = 3 < ... the primes, S(v) the sum of the primes
 * up to v, phi(v, b) the sum of the n <= v, 1 included, whose prime factors
 * all exceed p_b.  Taking out the numbers whose least prime factor is p_b
 * gives
 *
 *     phi(v, b) = phi(v, b - 1) - p_b * phi(v / p_b, b - 1).
 *
 * With y = alpha * x^(1/3), y^3 > x, a = pi(y) and z = x / y, no number up
 * to x has three prime factors above p_a, so
 *
 *     S(x) = phi(x, a) - 1 + S(p_a) - P2,
 *     P2   = sum over p_a < p <= sqrt(x) of p * (S(x / p) - S(p - 1))
 *
 * (P2 is the sum of the n = p * q <= x, p <= q primes above p_a).  Unfolding
 * the recurrence for phi(x, a) from the leaf (1, a), stopping at level c = 6
 * or once the leaf's n exceeds y, splits it into
 *
 *     S1 = sum over squarefree n <= y with lpf(n) > p_c
 *          of mu(n) * n * phi(x / n, c),
 *     S2 = - sum over c < b <= a of p_b * sum over squarefree m
 *          with lpf(m) > p_b, m <= y < m * p_b
 *          of mu(m) * m * phi(x / (m p_b), b - 1).
 *
 * phi(v, 6) is periodic modulo 30030 and so closed form.  Every argument of
 * phi in S2 is at most z: where it is below both y and p_b^2 the numbers
 * counted are 1 and the primes from p_b on, and S(v) comes from a table up
 * to y, a run of m with the same S(v) at a time; the rest, and P2, need
 * phi(v, b - 1) for v up to z, which a segmented sieve of [0, z] provides:
 * each segment is sieved with p_1, p_2, ... in turn, with a Fenwick tree of
 * the sums of the survivors, and the leaves of p_b read it before p_b is
 * crossed off; once p_b^2 exceeds the segment, only primes survive and the
 * leaves (and P2) read plain prefix sums of them.
 *
 * Time is O(x^(2/3)) up to logarithms, memory O(y): see
 * NGX_ASYNC_PRIMES_PREFIX_ALPHA and ngx_async_primes_prefix_cost() for the
 * figures.
 *
 * All arithmetic on sums is modulo 2^128: every S(x) with x < 2^64 is below
 * 2^128, so the wrapped intermediate differences come out exact.
 */


/* below this, a plain sieve of Eratosthenes is faster and simpler */
#define NGX_ASYNC_PRIMES_PREFIX_SMALL    65536

/*
 * y = alpha * x^(1/3) balances the leaves read from the tables and the
 * Fenwick tree (more with a larger y) against the sieve of [0, x / y]:
 * measured on the reference machine, 10^11 to 10^15 run fastest with alpha
 * about 15 (within 30% from 10 to 20).
 *
 * Memory: the tables take 8 bytes per number up to y and 36 per prime up
 * to y, the segment about 0.7 MB at most.  For 10^15, y = 1.5e6: 16 MB
 * (peak RSS measured 15 MB).  y is capped at 2^24, which still has y^3 > x
 * for every 64-bit x: at most about 180 MB, whatever x.
 */
#define NGX_ASYNC_PRIMES_PREFIX_ALPHA    15
#define NGX_ASYNC_PRIMES_PREFIX_Y_MAX    (1 << 24)

/* phi(v, 6): the primes 2..13, their product and its totient */
#define NGX_ASYNC_PRIMES_PREFIX_C        6
#define NGX_ASYNC_PRIMES_PREFIX_PP       30030
#define NGX_ASYNC_PRIMES_PREFIX_TOTIENT  5760

/* segments hold at most this many odd numbers: a 512 KB tree, L2 sized */
#define NGX_ASYNC_PRIMES_PREFIX_SEG_MAX  65536
#define NGX_ASYNC_PRIMES_PREFIX_SEG_MIN  128

/* the ordinary leaves check the stop flag once per this many numbers */
#define NGX_ASYNC_PRIMES_PREFIX_CHECK    16384


typedef ngx_async_primes_uint128_t  ngx_async_primes_u128_t;


typedef struct {
    uint64_t                  x;
    uint64_t                  y;
    uint64_t                  z;
    uint64_t                  sqrtx;
    uint32_t                  a;

    /* primes[1..a], the primes up to y; ps[i] = primes[1] + ... + primes[i] */
    uint32_t                 *primes;
    uint64_t                 *ps;

    /* pi[v], v <= y */
    uint32_t                 *pi;

    /* mu(n) * lpf(n) for n <= y, 0 if n is not squarefree, lpf(1) = max */
    int32_t                  *lm;

    /* phi(r, 6) and its count for r < 30030 */
    uint16_t                 *phi_cnt;
    uint32_t                 *phi_sum;

    /* the segmented sieve */
    size_t                    seg_odd;
    unsigned char            *flags;
    unsigned char            *pattern;
    unsigned char            *p2buf;
    uint64_t                 *tree;
    uint64_t                 *next;
    ngx_async_primes_u128_t  *acc;

    int                      *stop;
    uint64_t                 *done;
} ngx_async_primes_prefix_t;


static uint64_t ngx_async_primes_prefix_icbrt(uint64_t x);
static int ngx_async_primes_prefix_small(uint64_t x,
    ngx_async_primes_uint128_t *sum);
static int ngx_async_primes_prefix_init(ngx_async_primes_prefix_t *s,
    uint64_t x);
static void ngx_async_primes_prefix_free(ngx_async_primes_prefix_t *s);
static ngx_async_primes_u128_t ngx_async_primes_prefix_phi6(
    ngx_async_primes_prefix_t *s, uint64_t v);
static int ngx_async_primes_prefix_s1(ngx_async_primes_prefix_t *s,
    ngx_async_primes_u128_t *s1);
static int ngx_async_primes_prefix_easy(ngx_async_primes_prefix_t *s,
    ngx_async_primes_u128_t *s2);
static int ngx_async_primes_prefix_sieve(ngx_async_primes_prefix_t *s,
    ngx_async_primes_u128_t *s2, ngx_async_primes_u128_t *p2);
static int ngx_async_primes_prefix_leaf_range(ngx_async_primes_prefix_t *s,
    uint64_t p, uint64_t low, uint64_t high, uint64_t *mlo, uint64_t *mhi);
static ngx_async_primes_u128_t ngx_async_primes_prefix_tree_leaves(
    ngx_async_primes_prefix_t *s, uint32_t b, uint64_t low, uint64_t high);
static ngx_async_primes_u128_t ngx_async_primes_prefix_final_leaves(
    ngx_async_primes_prefix_t *s, uint32_t b, uint64_t low, uint64_t high,
    ngx_async_primes_u128_t base);
static ngx_async_primes_u128_t ngx_async_primes_prefix_p2(
    ngx_async_primes_prefix_t *s, uint64_t low, uint64_t high,
    ngx_async_primes_u128_t base, uint64_t *tsum,
    ngx_async_primes_u128_t *qsum);
static int ngx_async_primes_prefix_stopped(int *stop);


int
ngx_async_primes_prefix_sum(uint64_t x, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx)
{
    int                        rc;
    ngx_async_primes_u128_t    s1, s2, p2;
    ngx_async_primes_prefix_t  s;

    *sum = 0;

    if (x < NGX_ASYNC_PRIMES_PREFIX_SMALL) {

        if (ctx != NULL) {
            __atomic_store_n(&ctx->done, 0, __ATOMIC_RELAXED);
            __atomic_store_n(&ctx->total, x, __ATOMIC_RELAXED);
        }

        rc = ngx_async_primes_prefix_small(x, sum);

        if (rc == NGX_ASYNC_PRIMES_SUM_OK && ctx != NULL) {
            __atomic_store_n(&ctx->done, x, __ATOMIC_RELAXED);
        }

        return rc;
    }

    rc = ngx_async_primes_prefix_init(&s, x);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        return rc;
    }

    /*
     * The work measure: y for the ordinary leaves, a for the primes whose
     * leaves come from the tables, then the numbers of [0, z] as their
     * segments are sieved.
     */

    s.stop = NULL;
    s.done = NULL;

    if (ctx != NULL) {
        s.stop = &ctx->stop;
        s.done = &ctx->done;
        __atomic_store_n(&ctx->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ctx->total, s.y + s.a + s.z + 1, __ATOMIC_RELAXED);
    }

    rc = ngx_async_primes_prefix_s1(&s, &s1);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        goto done;
    }

    rc = ngx_async_primes_prefix_easy(&s, &s2);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        goto done;
    }

    rc = ngx_async_primes_prefix_sieve(&s, &s2, &p2);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        goto done;
    }

    *sum = s1 + s2 - 1 + s.ps[s.a] - p2;

done:

    ngx_async_primes_prefix_free(&s);

    return rc;
}


/*
 * Measured on the reference machine (2-core AMD EPYC, one thread, gcc -O2,
 * the other core busy):
 *
 *            x    seconds    peak RSS
 *         10^9      0.003      1.9 MB
 *         10^10     0.011      2.0 MB
 *         10^11     0.040      2.0 MB
 *         10^12     0.149      2.5 MB
 *         10^13     0.605      4.3 MB
 *         10^14     2.45       7.4 MB
 *         10^15    10.9-12.1  14.5 MB
 *
 * x^(2/3) / 850 + 3 x^(1/3) microseconds follows them within 10% from
 * 10^10 on (the second term is the tables' share); x^(2/3) is taken as
 * icbrt(x)^2.  Below 65536 the plain sieve takes well under a millisecond.
 */

uint64_t
ngx_async_primes_prefix_cost(uint64_t x)
{
    uint64_t  c;

    if (x < NGX_ASYNC_PRIMES_PREFIX_SMALL) {
        return 1 + x / 1000;
    }

    c = ngx_async_primes_prefix_icbrt(x);

    return c * c / 850 + 3 * c;
}


/* integer Newton from above: no libm, exact for all of uint64_t */

static uint64_t
ngx_async_primes_prefix_icbrt(uint64_t x)
{
    uint64_t  r, s;

    if (x < 2) {
        return x;
    }

    r = (uint64_t) 1 << ((64 - __builtin_clzll(x) + 2) / 3);

    for ( ;; ) {
        s = (2 * r + x / (r * r)) / 3;

        if (s >= r) {
            break;
        }

        r = s;
    }

    while ((ngx_async_primes_u128_t) r * r * r > x) {
        r--;
    }

    while ((ngx_async_primes_u128_t) (r + 1) * (r + 1) * (r + 1) <= x) {
        r++;
    }

    return r;
}


/* a plain sieve of the odd numbers up to x, x < 65536 */

static int
ngx_async_primes_prefix_small(uint64_t x, ngx_async_primes_uint128_t *sum)
{
    uint64_t        i, j, n, total;
    unsigned char  *odd;

    if (x < 2) {
        *sum = 0;
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    /* odd[i] stands for 2 * i + 1 */
    n = (x + 1) / 2;

    odd = calloc(n, 1);
    if (odd == NULL) {
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    total = 2;

    for (i = 1; i < n; i++) {

        if (odd[i]) {
            continue;
        }

        total += 2 * i + 1;

        for (j = (2 * i + 1) * (2 * i + 1) / 2; j < n; j += 2 * i + 1) {
            odd[j] = 1;
        }
    }

    free(odd);

    *sum = total;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static int
ngx_async_primes_prefix_init(ngx_async_primes_prefix_t *s, uint64_t x)
{
    size_t    k;
    int32_t   p, q, mu;
    uint32_t  n, i, j, count;
    uint64_t  z, cnt, sm;

    memset(s, 0, sizeof(ngx_async_primes_prefix_t));

    s->x = x;
    s->sqrtx = ngx_async_primes_isqrt(x);

    s->y = ngx_async_primes_prefix_icbrt(x) * NGX_ASYNC_PRIMES_PREFIX_ALPHA;

    if (s->y > NGX_ASYNC_PRIMES_PREFIX_Y_MAX) {
        s->y = NGX_ASYNC_PRIMES_PREFIX_Y_MAX;
    }

    /* y^3 > x: no three prime factors above y fit in x, and y^2 > x / y */
    if (s->y <= ngx_async_primes_prefix_icbrt(x)) {
        s->y = ngx_async_primes_prefix_icbrt(x) + 1;
    }

    if (s->y > s->sqrtx) {
        s->y = s->sqrtx;
    }

    s->z = x / s->y;

    /* the tables up to y: lm[] first holds the least prime factors */

    s->lm = calloc(s->y + 1, sizeof(int32_t));
    s->pi = malloc((s->y + 1) * sizeof(uint32_t));

    if (s->lm == NULL || s->pi == NULL) {
        goto nomem;
    }

    count = 0;

    for (n = 2; n <= s->y; n++) {

        if (s->lm[n] == 0) {
            count++;

            for (j = n; j <= s->y; j += n) {
                if (s->lm[j] == 0) {
                    s->lm[j] = n;
                }
            }
        }

        s->pi[n] = count;
    }

    s->pi[0] = 0;
    s->pi[1] = 0;
    s->a = count;

    s->primes = malloc((count + 1) * sizeof(uint32_t));
    s->ps = malloc((count + 1) * sizeof(uint64_t));

    if (s->primes == NULL || s->ps == NULL) {
        goto nomem;
    }

    s->primes[0] = 0;
    s->ps[0] = 0;

    for (n = 2; n <= s->y; n++) {
        if (s->lm[n] == (int32_t) n) {
            i = s->pi[n];
            s->primes[i] = n;
            s->ps[i] = s->ps[i - 1] + n;
        }
    }

    /* in increasing order, n / lpf(n) is already done */

    s->lm[1] = INT32_MAX;

    for (n = 2; n <= s->y; n++) {
        p = s->lm[n];
        q = n / p;

        if (q % p == 0) {
            s->lm[n] = 0;
            continue;
        }

        mu = (s->lm[q] > 0) ? 1 : (s->lm[q] < 0 ? -1 : 0);
        s->lm[n] = -mu * p;
    }

    /* phi(r, 6) for r < 30030 */

    s->phi_cnt = malloc(NGX_ASYNC_PRIMES_PREFIX_PP * sizeof(uint16_t));
    s->phi_sum = malloc(NGX_ASYNC_PRIMES_PREFIX_PP * sizeof(uint32_t));

    if (s->phi_cnt == NULL || s->phi_sum == NULL) {
        goto nomem;
    }

    cnt = 0;
    sm = 0;

    for (k = 0; k < NGX_ASYNC_PRIMES_PREFIX_PP; k++) {
        if (k % 2 && k % 3 && k % 5 && k % 7 && k % 11 && k % 13) {
            cnt++;
            sm += k;
        }

        s->phi_cnt[k] = (uint16_t) cnt;
        s->phi_sum[k] = (uint32_t) sm;
    }

    /*
     * Segments of about sqrt(z) numbers keep the per-segment work (one
     * step per prime up to the segment's square root) in step with the
     * sieving itself.
     */

    z = s->z;
    k = NGX_ASYNC_PRIMES_PREFIX_SEG_MIN;

    while (k < NGX_ASYNC_PRIMES_PREFIX_SEG_MAX
           && (uint64_t) k * k < z / 4)
    {
        k *= 2;
    }

    s->seg_odd = k;

    s->flags = malloc(k);
    s->p2buf = malloc(k + 2);
    s->tree = malloc(k * sizeof(uint64_t));

    /* the pattern of the odd numbers prime to 3..13, long enough to copy */
    s->pattern = malloc(NGX_ASYNC_PRIMES_PREFIX_PP / 2 + k);

    s->next = malloc((s->a + 1) * sizeof(uint64_t));
    s->acc = malloc((s->a + 1) * sizeof(ngx_async_primes_u128_t));

    if (s->flags == NULL || s->p2buf == NULL || s->tree == NULL
        || s->pattern == NULL || s->next == NULL || s->acc == NULL)
    {
        goto nomem;
    }

    for (k = 0; k < NGX_ASYNC_PRIMES_PREFIX_PP / 2 + s->seg_odd; k++) {
        n = (2 * k + 1) % NGX_ASYNC_PRIMES_PREFIX_PP;
        s->pattern[k] = (n % 3 && n % 5 && n % 7 && n % 11 && n % 13);
    }

    return NGX_ASYNC_PRIMES_SUM_OK;

nomem:

    ngx_async_primes_prefix_free(s);

    return NGX_ASYNC_PRIMES_SUM_NOMEM;
}


static void
ngx_async_primes_prefix_free(ngx_async_primes_prefix_t *s)
{
    free(s->primes);
    free(s->ps);
    free(s->pi);
    free(s->lm);
    free(s->phi_cnt);
    free(s->phi_sum);
    free(s->flags);
    free(s->pattern);
    free(s->p2buf);
    free(s->tree);
    free(s->next);
    free(s->acc);

    memset(s, 0, sizeof(ngx_async_primes_prefix_t));
}


/*
 * phi(v, 6): v = q * 30030 + r, the numbers prime to 30030 are t + j * 30030
 * for the 5760 residues t, all of them for j < q and those t <= r for j = q.
 */

static ngx_async_primes_u128_t
ngx_async_primes_prefix_phi6(ngx_async_primes_prefix_t *s, uint64_t v)
{
    uint64_t                 q, r;
    ngx_async_primes_u128_t  tri;

    q = v / NGX_ASYNC_PRIMES_PREFIX_PP;
    r = v % NGX_ASYNC_PRIMES_PREFIX_PP;

    /* q (q - 1) / 2, q < 2^50: no overflow */
    tri = ((ngx_async_primes_u128_t) q * (q ? q - 1 : 0)) / 2;

    return (ngx_async_primes_u128_t) q
               * ((uint64_t) NGX_ASYNC_PRIMES_PREFIX_TOTIENT
                  * NGX_ASYNC_PRIMES_PREFIX_PP / 2)
           + tri * ((uint64_t) NGX_ASYNC_PRIMES_PREFIX_PP
                    * NGX_ASYNC_PRIMES_PREFIX_TOTIENT)
           + (ngx_async_primes_u128_t) q * NGX_ASYNC_PRIMES_PREFIX_PP
             * s->phi_cnt[r]
           + s->phi_sum[r];
}


/* the ordinary leaves */

static int
ngx_async_primes_prefix_s1(ngx_async_primes_prefix_t *s,
    ngx_async_primes_u128_t *s1)
{
    int32_t                  l;
    uint64_t                 n;
    ngx_async_primes_u128_t  plus, minus;

    plus = 0;
    minus = 0;

    for (n = 1; n <= s->y; n++) {

        if (n % NGX_ASYNC_PRIMES_PREFIX_CHECK == 0) {

            if (ngx_async_primes_prefix_stopped(s->stop)) {
                return NGX_ASYNC_PRIMES_SUM_STOPPED;
            }

            if (s->done != NULL) {
                __atomic_store_n(s->done, n, __ATOMIC_RELAXED);
            }
        }

        l = s->lm[n];

        if (l > 13) {
            plus += n * ngx_async_primes_prefix_phi6(s, s->x / n);

        } else if (l < -13) {
            minus += n * ngx_async_primes_prefix_phi6(s, s->x / n);
        }
    }

    *s1 = plus - minus;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/*
 * The special leaves with v = x / (m p_b) below both y + 1 and p_b^2:
 * phi(v, b - 1) is 1 plus the primes from p_b to v, read from the tables.
 * For p_b^2 > y, m is a prime q > p_b, and the q that share S(v) are taken
 * together: those up to x / (p_b * p_k), p_k the largest prime up to v.
 */

static int
ngx_async_primes_prefix_easy(ngx_async_primes_prefix_t *s,
    ngx_async_primes_u128_t *s2)
{
    int32_t                  l;
    uint32_t                 b, j, jlo, jhi, jmax, k;
    uint64_t                 p, pprev, xp, lim, mlo, m, q, v, bound, phi;
    ngx_async_primes_u128_t  t, total;

    total = 0;

    for (b = NGX_ASYNC_PRIMES_PREFIX_C + 1; b <= s->a; b++) {

        if (ngx_async_primes_prefix_stopped(s->stop)) {
            return NGX_ASYNC_PRIMES_SUM_STOPPED;
        }

        if (s->done != NULL) {
            __atomic_store_n(s->done, s->y + b, __ATOMIC_RELAXED);
        }

        p = s->primes[b];
        pprev = s->primes[b - 1];
        xp = s->x / p;

        lim = (p * p < s->y + 1) ? p * p : s->y + 1;

        /* m > (x / lim) / p makes v < lim; m > y / p makes m p > y */
        mlo = xp / lim;

        if (mlo < s->y / p) {
            mlo = s->y / p;
        }

        if (mlo >= s->y) {
            continue;
        }

        t = 0;

        if (p * p > s->y) {

            if (mlo < p) {
                mlo = p;
            }

            jlo = s->pi[mlo];
            jhi = s->a;
            j = jlo + 1;

            while (j <= jhi) {
                q = s->primes[j];
                v = xp / q;

                if (v < pprev) {
                    t += s->ps[jhi] - s->ps[j - 1];
                    break;
                }

                k = s->pi[v];
                phi = 1 + s->ps[k] - s->ps[b - 1];

                bound = xp / s->primes[k];
                jmax = (bound >= s->y) ? jhi : s->pi[bound];

                if (jmax > jhi) {
                    jmax = jhi;
                }

                t += (ngx_async_primes_u128_t) phi
                     * (s->ps[jmax] - s->ps[j - 1]);

                j = jmax + 1;
            }

            /* mu(q) = -1 */
            total += p * t;

            continue;
        }

        for (m = s->y; m > mlo; m--) {
            l = s->lm[m];

            if (l <= (int32_t) p && l >= -(int32_t) p) {
                continue;
            }

            v = xp / m;
            phi = (v < pprev) ? 1 : 1 + s->ps[s->pi[v]] - s->ps[b - 1];

            if (l > 0) {
                t -= (ngx_async_primes_u128_t) m * phi;

            } else {
                t += (ngx_async_primes_u128_t) m * phi;
            }
        }

        total += p * t;
    }

    *s2 = total;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/*
 * The segmented sieve of [0, z]: the other special leaves and P2.  acc[b] is
 * the sum of the numbers below the segment whose prime factors are all at
 * least p_b, next[b] the next odd multiple of p_b to cross off; both start
 * when p_b^2 first falls into a segment, all the numbers below it with no
 * prime factor under p_b then being 1 and primes.
 */

static int
ngx_async_primes_prefix_sieve(ngx_async_primes_prefix_t *s,
    ngx_async_primes_u128_t *s2, ngx_async_primes_u128_t *p2)
{
    size_t                   i, n, k, off;
    uint32_t                 b, bmax, bprev, btop, bleaf, p;
    uint64_t                 low, high, hiv, m, step, root, total, tsum;
    ngx_async_primes_u128_t  slow, base, sum2, psum, qsum;

    sum2 = *s2;
    psum = 0;
    tsum = 0;
    qsum = 0;

    /* S(low - 1) */
    slow = 0;

    bprev = NGX_ASYNC_PRIMES_PREFIX_C;

    for (low = 0; low <= s->z; low = high) {

        if (ngx_async_primes_prefix_stopped(s->stop)) {
            return NGX_ASYNC_PRIMES_SUM_STOPPED;
        }

        high = low + 2 * s->seg_odd;

        if (high > s->z + 1) {
            high = s->z + 1;
        }

        hiv = high - 1;
        n = (high - low) / 2;

        root = ngx_async_primes_isqrt(hiv);
        bmax = s->pi[root < s->y ? root : s->y];

        for (b = bprev + 1; b <= bmax; b++) {
            p = s->primes[b];

            /* 1 and the primes from p_b on below low */
            s->acc[b] = (low > 1) ? 1 : 0;

            if (slow > s->ps[b - 1]) {
                s->acc[b] += slow - s->ps[b - 1];
            }

            if (low <= p) {
                m = p;

            } else {
                m = (low + p - 1) / p * p;

                if (m % 2 == 0) {
                    m += p;
                }
            }

            s->next[b] = m;
        }

        if (bmax > bprev) {
            bprev = bmax;
        }

        /* the numbers prime to 2..13 */

        off = (low % NGX_ASYNC_PRIMES_PREFIX_PP) / 2;
        memcpy(s->flags, s->pattern + off, n);

        total = 0;

        for (i = 0; i < n; i++) {
            m = s->flags[i] ? low + 2 * i + 1 : 0;
            s->tree[i] = m;
            total += m;
        }

        for (i = 1; i <= n; i++) {
            k = i + (i & (0 - i));

            if (k <= n) {
                s->tree[k - 1] += s->tree[i - 1];
            }
        }

        /* the leaves of p_b read the segment before p_b is crossed off */

        for (b = NGX_ASYNC_PRIMES_PREFIX_C + 1; b <= bmax; b++) {

            sum2 += ngx_async_primes_prefix_tree_leaves(s, b, low, high);

            s->acc[b] += total;

            p = s->primes[b];
            step = 2 * (uint64_t) p;

            for (m = s->next[b]; m < high; m += step) {
                i = (m - low) / 2;

                if (s->flags[i]) {
                    s->flags[i] = 0;
                    total -= m;

                    for (k = i + 1; k <= n; k += k & (0 - k)) {
                        s->tree[k - 1] -= m;
                    }
                }
            }

            s->next[b] = m;
        }

        /*
         * Only 1 and primes are left: put back the primes crossed off
         * themselves, take out 1, and sum up.
         */

        btop = (bmax > NGX_ASYNC_PRIMES_PREFIX_C) ? bmax
                                                  : NGX_ASYNC_PRIMES_PREFIX_C;

        for (b = 2; b <= btop && s->primes[b] < high; b++) {
            if (s->primes[b] >= low) {
                s->flags[(s->primes[b] - low) / 2] = 1;
            }
        }

        if (low == 0 && n > 0) {
            s->flags[0] = 0;
        }

        total = 0;

        for (i = 0; i < n; i++) {
            total += s->flags[i] ? low + 2 * i + 1 : 0;
            s->tree[i] = total;
        }

        /* S(v) = base + tree[(v - low - 1) / 2] for v in the segment, v > 2 */
        base = slow + (low == 0 ? 2 : 0);

        bleaf = s->a;

        if (low > 0) {
            root = ngx_async_primes_isqrt(s->x / low);
            bleaf = s->pi[root < s->y ? root : s->y];
        }

        for (b = bmax + 1; b <= bleaf; b++) {
            if (b > NGX_ASYNC_PRIMES_PREFIX_C) {
                sum2 += ngx_async_primes_prefix_final_leaves(s, b, low, high,
                                                             base);
            }
        }

        psum += ngx_async_primes_prefix_p2(s, low, high, base, &tsum, &qsum);

        slow = base + total;

        if (s->done != NULL) {
            __atomic_store_n(s->done, s->y + s->a + high, __ATOMIC_RELAXED);
        }
    }

    /*
     * P2 = sum p S(x / p) - sum p S(p - 1), and with T and Q the sums of
     * the p and of their squares, sum p S(p - 1) = S(p_a) T + (T^2 - Q) / 2;
     * T < 2^59, so T^2 does not wrap.
     */

    *p2 = psum - (ngx_async_primes_u128_t) s->ps[s->a] * tsum
          - ((ngx_async_primes_u128_t) tsum * tsum - qsum) / 2;

    *s2 = sum2;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/*
 * The m of the leaves of p whose v = x / (m p) is in [max(low, y + 1 or
 * p^2), high): m in (mlo, mhi]; 0 if there are none.  Both leaf walkers
 * start from it.
 */

static int
ngx_async_primes_prefix_leaf_range(ngx_async_primes_prefix_t *s, uint64_t p,
    uint64_t low, uint64_t high, uint64_t *mlo, uint64_t *mhi)
{
    uint64_t  v0;

    v0 = (p * p < s->y + 1) ? p * p : s->y + 1;

    if (v0 < low) {
        v0 = low;
    }

    if (v0 >= high) {
        return 0;
    }

    *mlo = s->x / high / p;
    *mhi = s->x / v0 / p;

    if (*mlo < s->y / p) {
        *mlo = s->y / p;
    }

    if (*mhi > s->y) {
        *mhi = s->y;
    }

    return *mhi > *mlo;
}


/*
 * The leaves of p_b with v = x / (m p_b) in [max(low, y + 1 or p_b^2),
 * high): m in the leaf range, m p_b > y, lpf(m) > p_b.
 */

static ngx_async_primes_u128_t
ngx_async_primes_prefix_tree_leaves(ngx_async_primes_prefix_t *s,
    uint32_t b, uint64_t low, uint64_t high)
{
    int32_t                  l;
    size_t                   k;
    uint32_t                 j, jlo, jhi;
    uint64_t                 p, mlo, mhi, m, v, sum, xp;
    ngx_async_primes_u128_t  t, tq;

    p = s->primes[b];
    xp = s->x / p;

    if (!ngx_async_primes_prefix_leaf_range(s, p, low, high, &mlo, &mhi)) {
        return 0;
    }

    if (p * p > s->y) {

        if (mlo < p) {
            mlo = p;
        }

        if (mhi <= mlo) {
            return 0;
        }

        jlo = s->pi[mlo];
        jhi = s->pi[mhi];

        tq = 0;

        for (j = jlo + 1; j <= jhi; j++) {
            m = s->primes[j];
            v = xp / m;

            /* the odd numbers of [low, v]: (v - low + 1) / 2 of them */
            sum = 0;

            for (k = (v - low + 1) / 2; k > 0; k &= k - 1) {
                sum += s->tree[k - 1];
            }

            tq += (ngx_async_primes_u128_t) m * sum;
        }

        t = s->acc[b] * (s->ps[jhi] - s->ps[jlo]) + tq;

        /* mu(q) = -1 */
        return p * t;
    }

    t = 0;

    for (m = mhi; m > mlo; m--) {
        l = s->lm[m];

        if (l <= (int32_t) p && l >= -(int32_t) p) {
            continue;
        }

        v = xp / m;
        sum = 0;

        for (k = (v - low + 1) / 2; k > 0; k &= k - 1) {
            sum += s->tree[k - 1];
        }

        if (l > 0) {
            t -= m * (s->acc[b] + sum);

        } else {
            t += m * (s->acc[b] + sum);
        }
    }

    return p * t;
}


/*
 * The same leaves once p_b^2 exceeds the segment: phi(v, b - 1) =
 * 1 + S(v) - S(p_(b-1)), v being at least y + 1 or p_b^2.
 */

static ngx_async_primes_u128_t
ngx_async_primes_prefix_final_leaves(ngx_async_primes_prefix_t *s,
    uint32_t b, uint64_t low, uint64_t high, ngx_async_primes_u128_t base)
{
    int32_t                  l;
    uint32_t                 j, jlo, jhi;
    uint64_t                 p, mlo, mhi, m, v, sum, xp;
    ngx_async_primes_u128_t  t, tq, c;

    p = s->primes[b];
    xp = s->x / p;

    if (!ngx_async_primes_prefix_leaf_range(s, p, low, high, &mlo, &mhi)) {
        return 0;
    }

    c = 1 + base - s->ps[b - 1];

    if (p * p > s->y) {

        if (mlo < p) {
            mlo = p;
        }

        if (mhi <= mlo) {
            return 0;
        }

        jlo = s->pi[mlo];
        jhi = s->pi[mhi];

        tq = 0;

        for (j = jlo + 1; j <= jhi; j++) {
            m = s->primes[j];
            v = xp / m;
            sum = (v > low) ? s->tree[(v - low - 1) / 2] : 0;
            tq += (ngx_async_primes_u128_t) m * sum;
        }

        t = c * (s->ps[jhi] - s->ps[jlo]) + tq;

        return p * t;
    }

    t = 0;

    for (m = mhi; m > mlo; m--) {
        l = s->lm[m];

        if (l <= (int32_t) p && l >= -(int32_t) p) {
            continue;
        }

        v = xp / m;
        sum = (v > low) ? s->tree[(v - low - 1) / 2] : 0;

        if (l > 0) {
            t -= m * (c + sum);

        } else {
            t += m * (c + sum);
        }
    }

    return p * t;
}


/*
 * The part of P2 whose x / p falls into the segment: p in
 * (max(y, x / high), min(sqrt(x), x / low)], found by sieving that range
 * (never wider than the segment, give or take one) with the primes up to
 * x^(1/4) <= y.
 */

static ngx_async_primes_u128_t
ngx_async_primes_prefix_p2(ngx_async_primes_prefix_t *s, uint64_t low,
    uint64_t high, ngx_async_primes_u128_t base, uint64_t *tsum,
    ngx_async_primes_u128_t *qsum)
{
    size_t                   i, n, cap;
    uint32_t                 b;
    uint64_t                 plo, phi, lo, hi, p, m, v, root;
    ngx_async_primes_u128_t  total;

    plo = s->x / high;

    if (plo < s->y) {
        plo = s->y;
    }

    phi = (low > 0) ? s->x / low : s->sqrtx;

    if (phi > s->sqrtx) {
        phi = s->sqrtx;
    }

    total = 0;
    cap = s->seg_odd + 2;

    /* odd numbers in (plo, phi], chunk by chunk; buf[i] is lo + 2 i */

    for (lo = (plo + 1) | 1; lo <= phi; lo = hi + 2) {

        n = (phi - lo) / 2 + 1;

        if (n > cap) {
            n = cap;
        }

        hi = lo + 2 * (n - 1);

        memset(s->p2buf, 1, n);

        root = ngx_async_primes_isqrt(hi);

        for (b = 2; b <= s->a && s->primes[b] <= root; b++) {
            p = s->primes[b];
            m = (lo + p - 1) / p * p;

            if (m % 2 == 0) {
                m += p;
            }

            if (m < p * p) {
                m = p * p;
            }

            for ( /* void */ ; m <= hi; m += 2 * p) {
                s->p2buf[(m - lo) / 2] = 0;
            }
        }

        for (i = 0; i < n; i++) {

            if (!s->p2buf[i]) {
                continue;
            }

            p = lo + 2 * i;
            v = s->x / p;

            total += p * (base + (v > low ? s->tree[(v - low - 1) / 2] : 0));

            *tsum += p;
            *qsum += (ngx_async_primes_u128_t) p * p;
        }
    }

    return total;
}


static int
ngx_async_primes_prefix_stopped(int *stop)
{
    return stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED);
}
