
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_async_primes_sum.h"


/*
 * The odd numbers of [a, b] are sieved a segment at a time; a byte per odd
 * number, 0 while it may be prime.  Two ways of using the sieve:
 *
 * - full: base primes up to isqrt(b), so every survivor is prime;
 * - hybrid: base primes up to a small limit, which removes most composites
 *   as trial division would but in bulk, and a deterministic Miller-Rabin
 *   test decides each survivor.  It wins when the window is narrow compared
 *   with isqrt(b): building the base primes would cost more than the window.
 *
 * Memory: one segment (NGX_ASYNC_PRIMES_SUM_SEGMENT bytes), the primes up to
 * 65535 with their offsets (about 52 KiB), and 8 bytes per base prime: the
 * prime and its next offset, each fitting 32 bits since base primes are
 * below 2^32.  The full sieve is used only while isqrt(b) is at most
 * NGX_ASYNC_PRIMES_SUM_ROOT_MAX, which caps base primes at about 16 MiB, as
 * pi(2^25) = 2063689 (20 MiB reserved by the bound on pi used).  Above that
 * the hybrid sieve runs whatever the window: slower, about 0.2 s for a
 * million numbers near 2^64 against 0.03 s near 10^12, but in the same
 * bounded memory.
 */

#define NGX_ASYNC_PRIMES_SUM_SEGMENT   (128 * 1024)
#define NGX_ASYNC_PRIMES_SUM_ROOT_MAX  (1 << 25)

/*
 * Segments start as a copy of the pattern of the multiples of 3, 5, 7, 11
 * and 13, which repeats every 15015 odd numbers; that saves about 40% of
 * the strikes.
 */
#define NGX_ASYNC_PRIMES_SUM_PATTERN   (3 * 5 * 7 * 11 * 13)
#define NGX_ASYNC_PRIMES_SUM_PRESIEVED  13

/* the hybrid sieve removes multiples of primes up to this */
#define NGX_ASYNC_PRIMES_SUM_HYBRID    65535

/* the full sieve pays off once the window holds this many odd numbers */
#define NGX_ASYNC_PRIMES_SUM_FULL(root)  ((root) / 64)

/* a Miller-Rabin test costs up to about 20 us near 2^64 */
#define NGX_ASYNC_PRIMES_SUM_MR_CHECK  64

/* offsetting a base prime costs about a nanosecond */
#define NGX_ASYNC_PRIMES_SUM_PRIMES_CHECK  (1 << 18)


typedef struct {
    uint32_t                   *primes;
    uint32_t                   *next;
    size_t                      nprimes;

    /* primes whose square the sieve has reached: they strike from there */
    size_t                      active;

    uint64_t                    lo;
    uint64_t                    count;
    uint64_t                    pos;

    unsigned char              *seg;
    unsigned char              *pattern;
    int                        *stop;
} ngx_async_primes_sieve_t;


static uint64_t ngx_async_primes_isqrt(uint64_t n);
static size_t ngx_async_primes_pi_bound(uint64_t x);
static uint32_t *ngx_async_primes_small_primes(uint32_t limit, size_t *n);
static int ngx_async_primes_base_primes(ngx_async_primes_sieve_t *base,
    uint32_t limit, uint32_t **primes, size_t *n);
static uint64_t ngx_async_primes_first(uint64_t p, uint64_t lo);
static int ngx_async_primes_sieve_next(ngx_async_primes_sieve_t *s,
    size_t *n);
static void ngx_async_primes_pattern(unsigned char *pattern);
static void ngx_async_primes_segment_sum(const unsigned char *seg, size_t n,
    uint64_t *cnt, uint64_t *isum);
static int ngx_async_primes_stopped(int *stop);
static uint64_t ngx_async_primes_mulmod(uint64_t a, uint64_t b, uint64_t m);
static int ngx_async_primes_mr(uint64_t n);


int
ngx_async_primes_sum(uint64_t a, uint64_t b, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx)
{
    int                          rc, *stop;
    size_t                       i, n, nsmall, nbase, tests;
    uint32_t                     limit, *small, *base;
    uint64_t                     lo, hi, root, cnt, isum, num, square, end;
    unsigned char               *seg;
    ngx_async_primes_sieve_t     s;
    ngx_async_primes_uint128_t   total;

    *sum = 0;

    if (a == 0) {
        a = 1;
    }

    stop = NULL;

    if (ctx != NULL) {
        stop = &ctx->stop;
        __atomic_store_n(&ctx->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ctx->total, a > b ? 0 : b - a + 1,
                         __ATOMIC_RELAXED);
    }

    if (a > b) {
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    total = (a <= 2 && b >= 2) ? 2 : 0;

    lo = (a < 3) ? 3 : (a | 1);
    hi = (b & 1) ? b : b - 1;

    if (lo > hi) {
        goto done;
    }

    root = ngx_async_primes_isqrt(hi);

    if (root <= NGX_ASYNC_PRIMES_SUM_HYBRID
        || (root <= NGX_ASYNC_PRIMES_SUM_ROOT_MAX
            && (hi - lo) / 2 + 1 >= NGX_ASYNC_PRIMES_SUM_FULL(root)))
    {
        limit = (uint32_t) root;

    } else {
        limit = NGX_ASYNC_PRIMES_SUM_HYBRID;
    }

    /* survivors up to square have no factor up to limit, so are prime */
    square = (uint64_t) limit * limit;

    seg = malloc(NGX_ASYNC_PRIMES_SUM_SEGMENT + NGX_ASYNC_PRIMES_SUM_PATTERN);
    if (seg == NULL) {
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    ngx_async_primes_pattern(seg + NGX_ASYNC_PRIMES_SUM_SEGMENT);

    small = ngx_async_primes_small_primes(ngx_async_primes_isqrt(limit),
                                          &nsmall);
    if (small == NULL) {
        free(seg);
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    s.primes = small;
    s.next = small + nsmall;
    s.nprimes = nsmall;
    s.seg = seg;
    s.pattern = seg + NGX_ASYNC_PRIMES_SUM_SEGMENT;
    s.stop = stop;

    rc = ngx_async_primes_base_primes(&s, limit, &base, &nbase);

    free(small);

    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        free(seg);
        return rc;
    }

    s.primes = base;
    s.next = base + nbase;
    s.nprimes = nbase;
    s.active = 0;
    s.lo = lo;
    s.count = (hi - lo) / 2 + 1;
    s.pos = 0;

    tests = 0;

    while (s.pos < s.count) {

        if (ngx_async_primes_stopped(stop)) {
            rc = NGX_ASYNC_PRIMES_SUM_STOPPED;
            goto failed;
        }

        num = lo + 2 * s.pos;

        rc = ngx_async_primes_sieve_next(&s, &n);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            goto failed;
        }

        if (limit == root) {

            ngx_async_primes_segment_sum(seg, n, &cnt, &isum);

            total += (ngx_async_primes_uint128_t) cnt * num
                     + (ngx_async_primes_uint128_t) isum * 2;

        } else {

            for (i = 0; i < n; i++) {

                if (seg[i]) {
                    continue;
                }

                if (num + 2 * i <= square) {
                    total += num + 2 * i;
                    continue;
                }

                if (++tests % NGX_ASYNC_PRIMES_SUM_MR_CHECK == 0
                    && ngx_async_primes_stopped(stop))
                {
                    rc = NGX_ASYNC_PRIMES_SUM_STOPPED;
                    goto failed;
                }

                if (ngx_async_primes_mr(num + 2 * i)) {
                    total += num + 2 * i;
                }
            }
        }

        if (ctx != NULL) {
            /* the number past the segment's last is even, so examined */
            end = num + 2 * (n - 1);
            end = (end >= b) ? b : end + 1;
            __atomic_store_n(&ctx->done, end - a + 1, __ATOMIC_RELAXED);
        }
    }

    free(base);
    free(seg);

done:

    if (ctx != NULL) {
        __atomic_store_n(&ctx->done, b - a + 1, __ATOMIC_RELAXED);
    }

    *sum = total;

    return NGX_ASYNC_PRIMES_SUM_OK;

failed:

    free(base);
    free(seg);

    return rc;
}


size_t
ngx_async_primes_uint128_to_decimal(ngx_async_primes_uint128_t value,
    char *buf)
{
    char    tmp[NGX_ASYNC_PRIMES_UINT128_LEN];
    size_t  n, len;

    n = NGX_ASYNC_PRIMES_UINT128_LEN;

    do {
        tmp[--n] = (char) ('0' + (unsigned) (value % 10));
        value /= 10;
    } while (value != 0);

    len = NGX_ASYNC_PRIMES_UINT128_LEN - n;
    memcpy(buf, tmp + n, len);

    return len;
}


static uint64_t
ngx_async_primes_isqrt(uint64_t n)
{
    int       bits;
    uint64_t  x, y;

    if (n < 2) {
        return n;
    }

    /* Newton's method from above: x + n / x stays below 2^33 */

    bits = 64 - __builtin_clzll(n);
    x = (uint64_t) 1 << ((bits + 1) / 2);

    for ( ;; ) {
        y = (x + n / x) / 2;

        if (y >= x) {
            return x;
        }

        x = y;
    }
}


static size_t
ngx_async_primes_pi_bound(uint64_t x)
{
    uint64_t  lg;

    /*
     * pi(x) < 1.25506 x / ln(x) for x > 1 (Rosser and Schoenfeld), that
     * is 1.25506 / ln(2) * x / log2(x), and 1.25506 / ln(2) < 29 / 16;
     * floor(log2(x)) only makes it larger, and the slack covers rounding
     * and small x.
     */

    if (x < 16) {
        return 16;
    }

    lg = 63 - __builtin_clzll(x);

    return (size_t) (x / lg * 29 / 16 + 16);
}


/*
 * The odd primes up to limit (at most 65535) by a plain sieve, in an array
 * with room for as many entries again: the sieve keeps its offsets there.
 */

static uint32_t *
ngx_async_primes_small_primes(uint32_t limit, size_t *n)
{
    size_t          i, j, k, size;
    uint32_t       *primes;
    unsigned char  *composite;

    /* index i stands for 2 * i + 1 */

    size = ((size_t) limit + 1) / 2;

    composite = calloc(size, 1);
    if (composite == NULL) {
        return NULL;
    }

    primes = malloc(2 * ngx_async_primes_pi_bound(limit) * sizeof(uint32_t));
    if (primes == NULL) {
        free(composite);
        return NULL;
    }

    k = 0;

    for (i = 1; i < size; i++) {

        if (composite[i]) {
            continue;
        }

        primes[k++] = (uint32_t) (2 * i + 1);

        for (j = 2 * i * (i + 1); j < size; j += 2 * i + 1) {
            composite[j] = 1;
        }
    }

    free(composite);

    *n = k;

    return primes;
}


/*
 * The odd primes up to limit, sieved in segments with the primes up to
 * isqrt(limit) that s holds, in an array with room for as many entries
 * again: the sieve keeps its offsets there.
 */

static int
ngx_async_primes_base_primes(ngx_async_primes_sieve_t *s, uint32_t limit,
    uint32_t **primes, size_t *n)
{
    int        rc;
    size_t     i, k, len;
    uint32_t  *p;

    p = malloc(2 * ngx_async_primes_pi_bound(limit) * sizeof(uint32_t));
    if (p == NULL) {
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    s->active = 0;
    s->lo = 3;
    s->count = (limit < 3) ? 0 : (limit - 1) / 2;
    s->pos = 0;

    k = 0;

    while (s->pos < s->count) {

        rc = ngx_async_primes_sieve_next(s, &len);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            free(p);
            return rc;
        }

        for (i = 0; i < len; i++) {
            if (s->seg[i] == 0) {
                p[k++] = (uint32_t) (3 + 2 * (s->pos - len + i));
            }
        }

        if (ngx_async_primes_stopped(s->stop)) {
            free(p);
            return NGX_ASYNC_PRIMES_SUM_STOPPED;
        }
    }

    *primes = p;
    *n = k;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/* the index of the first odd multiple of p at or after the odd lo */

static uint64_t
ngx_async_primes_first(uint64_t p, uint64_t lo)
{
    uint64_t  r;

    if (p * p >= lo) {
        return (p * p - lo) / 2;
    }

    /* lo + 2 * j == 0 (mod p), so j == -lo / 2 and 1 / 2 == (p + 1) / 2 */

    r = lo % p;

    return (r == 0) ? 0 : (p - r) * ((p + 1) / 2) % p;
}


static int
ngx_async_primes_sieve_next(ngx_async_primes_sieve_t *s, size_t *n)
{
    size_t          i, k, len, chunk;
    uint64_t        j, p, lo, last;
    unsigned char  *seg;

    static const uint64_t  presieved[] = { 3, 5, 7, 11, 13 };

    len = NGX_ASYNC_PRIMES_SUM_SEGMENT;

    if (s->count - s->pos < len) {
        len = (size_t) (s->count - s->pos);
    }

    seg = s->seg;
    lo = s->lo + 2 * s->pos;
    last = lo + 2 * (len - 1);

    /* index k of the pattern stands for the odd numbers 2 * k + 1 */

    k = (size_t) (lo / 2 % NGX_ASYNC_PRIMES_SUM_PATTERN);

    for (i = 0; i < len; i += chunk) {
        chunk = NGX_ASYNC_PRIMES_SUM_PATTERN - k;

        if (chunk > len - i) {
            chunk = len - i;
        }

        memcpy(seg + i, s->pattern + k, chunk);
        k = 0;
    }

    if (lo <= NGX_ASYNC_PRIMES_SUM_PRESIEVED) {
        for (i = 0; i < sizeof(presieved) / sizeof(presieved[0]); i++) {
            p = presieved[i];

            if (p >= lo && p <= last) {
                seg[(p - lo) / 2] = 0;
            }
        }
    }

    while (s->active < s->nprimes) {
        p = s->primes[s->active];

        if (p * p > last) {
            break;
        }

        s->next[s->active++] = (uint32_t) ngx_async_primes_first(p, lo);
    }

    for (i = 0; i < s->active; i++) {

        if ((i + 1) % NGX_ASYNC_PRIMES_SUM_PRIMES_CHECK == 0
            && ngx_async_primes_stopped(s->stop))
        {
            return NGX_ASYNC_PRIMES_SUM_STOPPED;
        }

        p = s->primes[i];

        if (p <= NGX_ASYNC_PRIMES_SUM_PRESIEVED) {
            continue;
        }

        for (j = s->next[i]; j < len; j += p) {
            seg[j] = 1;
        }

        /* below p, so it fits 32 bits */
        s->next[i] = (uint32_t) (j - len);
    }

    s->pos += len;
    *n = len;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static void
ngx_async_primes_pattern(unsigned char *pattern)
{
    size_t  k, p;

    memset(pattern, 0, NGX_ASYNC_PRIMES_SUM_PATTERN);

    for (p = 3; p <= NGX_ASYNC_PRIMES_SUM_PRESIEVED; p += 2) {

        /* 2 * k + 1 == 0 (mod p) */

        for (k = (p - 1) / 2; k < NGX_ASYNC_PRIMES_SUM_PATTERN; k += p) {
            pattern[k] = 1;
        }
    }
}


/* the count and the sum of the indexes of the zeros of seg */

static void
ngx_async_primes_segment_sum(const unsigned char *seg, size_t n,
    uint64_t *cnt, uint64_t *isum)
{
    size_t    i;
    uint64_t  c, sum;
#if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    uint64_t  w;
#endif

    c = 0;
    sum = 0;
    i = 0;

#if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

    /* eight flags a load: a zero is a clear low bit in its byte */

    for ( /* void */ ; i + 8 <= n; i += 8) {
        memcpy(&w, seg + i, 8);
        w = ~w & 0x0101010101010101ULL;

        while (w != 0) {
            c++;
            sum += i + (__builtin_ctzll(w) >> 3);
            w &= w - 1;
        }
    }

#endif

    for ( /* void */ ; i < n; i++) {
        if (seg[i] == 0) {
            c++;
            sum += i;
        }
    }

    *cnt = c;
    *isum = sum;
}


static int
ngx_async_primes_stopped(int *stop)
{
    return stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED);
}


static uint64_t
ngx_async_primes_mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t) ((ngx_async_primes_uint128_t) a * b % m);
}


/*
 * Deterministic for n < 3.3 * 10^24 with the prime bases up to 37, so
 * for every 64-bit n.
 */

static int
ngx_async_primes_mr(uint64_t n)
{
    int        r, s;
    size_t     i;
    uint64_t   d, x, e, base;

    static const uint64_t  bases[] = {
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37
    };

    if (n < 2) {
        return 0;
    }

    for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        if (n % bases[i] == 0) {
            return n == bases[i];
        }
    }

    s = __builtin_ctzll(n - 1);
    d = (n - 1) >> s;

    for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {

        x = 1;
        base = bases[i];

        for (e = d; e != 0; e >>= 1) {
            if (e & 1) {
                x = ngx_async_primes_mulmod(x, base, n);
            }

            base = ngx_async_primes_mulmod(base, base, n);
        }

        if (x == 1 || x == n - 1) {
            continue;
        }

        for (r = 1; r < s; r++) {
            x = ngx_async_primes_mulmod(x, x, n);

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
