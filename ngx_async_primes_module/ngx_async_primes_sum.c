
/*
 * Copyright (C) The ngx_async_primes authors
 */


#include <stdlib.h>
#include <string.h>

#include "ngx_async_primes_sum.h"
#include "ngx_async_primes_prefix.h"
#include "ngx_async_primes_sum_internal.h"


/*
 * Three methods, ngx_async_primes_sum_pick() taking the cheapest by the
 * cost model:
 *
 * - The sieve: a segmented sieve of Eratosthenes on a mod 30 wheel, a bit
 *   for each number prime to 30, a byte for 30 numbers.  A segment starts
 *   as the AND of patterns that hold the multiples of the primes 7 to 89
 *   (pre-sieving); then the sieving primes up to isqrt(b) cross off their
 *   multiples.  Small ones (hitting a segment 32 times or more) walk it a
 *   residue of the cofactor at a time, a stride of p bytes that the
 *   hardware prefetcher follows.  Medium ones (2 to 32 hits) step around
 *   the wheel with the mask and the step of every position compiled in,
 *   kept in 64 lists by their position on the wheel so that the jump into
 *   that code is predictable.  Large ones, which hit a segment less than
 *   about twice, wait in the bucket of the segment of their next multiple
 *   (Oliveira e Silva's bucket sieve) and cost nothing where they do not
 *   hit.  The sieving primes come in order from a second segmented sieve
 *   of [7, isqrt(b)], each added when the sieve reaches its square: they
 *   are never stored as a list.  The survivors of a segment are summed a
 *   byte at a time through a table of each byte's count and residues.
 *
 * - Miller-Rabin: the same sieve with the primes up to 2^16 only, which
 *   leaves about 5% of the numbers; a deterministic Miller-Rabin test in
 *   Montgomery arithmetic decides them.  It wins for windows narrow next
 *   to isqrt(b): near 2^64 the full sieve first has to find and place the
 *   2 * 10^8 primes below 2^32, about 2 s.
 *
 * - S(b) - S(a - 1), by the sublinear prefix sums of
 *   ngx_async_primes_prefix.c, for wide ranges.
 *
 * Memory of the sieve, per job: the segment (256 KiB), the segment of the
 * sieve making the sieving primes (64 KiB), the pre-sieve patterns (201
 * KiB); 8 bytes for each small and medium sieving prime (those up to 2^20,
 * at most 1.2 MiB with their list blocks); for the large ones, 8 bytes
 * each while it still has a multiple ahead in the window, in 4 KiB blocks,
 * plus a block and a pointer per bucket (at most 4096 buckets).  Large
 * sieving primes with a multiple in the window are few next to pi(isqrt(b))
 * for narrow windows (6.7 million, 54 MiB, for [10^18, 10^18 + 10^8]) but
 * reach pi(2^32), 1.6 GiB, for windows wider than about 2^34 near 2^64: a
 * window is sieved in passes narrow enough for the entries to stay below
 * NGX_ASYNC_PRIMES_SUM_ENTRIES (2^24, 128 MiB), each pass finding the
 * sieving primes again.  A job thus stays below about 150 MiB.
 */


/* the sieve segment: 256 KiB, half the L2 cache of the reference machine */
#define NGX_ASYNC_PRIMES_SUM_SHIFT        18

/*
 * The segment of the sieve that makes the sieving primes: 64 KiB, twice
 * the L1 cache, visited half as often by its medium primes as at 32 KiB.
 * bench/engine.c, builds alternating: [2^64 - 10^8, 2^64 - 1] in 1.02 of
 * primesieve's time, against 1.09 twice at 32 KiB; 128 and 256 KiB were
 * slower than 64 KiB (CPU time of that window, best of five).
 */
#define NGX_ASYNC_PRIMES_SUM_SOURCE_SHIFT 16

/*
 * Small sieving primes hit a segment 32 times or more, p <= 64 Ki for a
 * full one; medium ones at least twice, p <= 1 Mi; large ones less.  For
 * the model: the largest medium prime.
 */
#define NGX_ASYNC_PRIMES_SUM_MEDIUM       ((uint64_t) 1 << 20)

/* a small or large prime's next multiple: byte | wheel index << 26 */
#define NGX_ASYNC_PRIMES_SUM_POS_BITS     26
#define NGX_ASYNC_PRIMES_SUM_POS_MASK     ((1u << 26) - 1)

/*
 * Lists and buckets are chains of 4 KiB blocks aligned to their size: the
 * first 8 bytes link to the previous block, 511 entries follow.  A list is
 * a pointer past its last entry, at a block boundary when the block is
 * full.  Blocks come 16 a malloc(), below its mmap() threshold so that the
 * memory is used again from job to job.
 */
#define NGX_ASYNC_PRIMES_SUM_BLOCK        4096
#define NGX_ASYNC_PRIMES_SUM_SLAB         16

/* the bucket entries a pass may need, 128 MiB */
#define NGX_ASYNC_PRIMES_SUM_ENTRIES      16777216.0

/* sieving primes taken from their sieve at a time */
#define NGX_ASYNC_PRIMES_SUM_BATCH        4096

/* the Miller-Rabin method sieves by the primes up to this first */
#define NGX_ASYNC_PRIMES_SUM_MR_LIMIT     65536

/* Miller-Rabin tests between two looks at the stop flag: 0.1 ms or less */
#define NGX_ASYNC_PRIMES_SUM_MR_CHECK     64

/* the pre-sieved primes, 7 to 89, in 8 patterns ANDed 4 at a time */
#define NGX_ASYNC_PRIMES_SUM_PATTERNS     8
#define NGX_ASYNC_PRIMES_SUM_PRESIEVED    89

/*
 * Making the patterns takes about 0.1 ms, what crossing off the multiples
 * of 7 to 89 takes in some 16 KiB of sieve: jobs sieving less go without.
 */
#define NGX_ASYNC_PRIMES_SUM_PATTERN_MIN  32768

/*
 * The cost model, microseconds on one core of the reference machine (AMD
 * EPYC, 32 KiB L1d and 512 KiB L2 per core, gcc -O2), fitted (least
 * squares of the relative error, constants kept positive) to the
 * measurements listed at ngx_async_primes_sum_method_cost(): setting up a
 * job, making the patterns, finding and placing the sieving primes (per
 * unit of the limit), a strike of a small and of a large sieving prime, a
 * medium sieving prime's visit to a segment, and Miller-Rabin per bit of
 * a composite survivor (base 2) and of a prime (all bases).
 */
#define NGX_ASYNC_PRIMES_SUM_COST_FIXED    22.0
#define NGX_ASYNC_PRIMES_SUM_COST_PATTERNS 112.5
#define NGX_ASYNC_PRIMES_SUM_COST_SOURCE   0.000411
#define NGX_ASYNC_PRIMES_SUM_COST_SMALL    0.000908
#define NGX_ASYNC_PRIMES_SUM_COST_MEDIUM   0.0114
#define NGX_ASYNC_PRIMES_SUM_COST_LARGE    0.00778
#define NGX_ASYNC_PRIMES_SUM_COST_SPRP     0.0104
#define NGX_ASYNC_PRIMES_SUM_COST_MR       0.0244

/* the least work worth a part of its own, microseconds */
#define NGX_ASYNC_PRIMES_SUM_PART_MIN     2000.0

/* the least share of the parts' work that the whole would take alone */
#define NGX_ASYNC_PRIMES_SUM_SPLIT_EFFICIENCY  0.6

/*
 * The least work, in microseconds, a thread's share of a prefix sum must
 * be worth: the tables are built by one thread, and each thread prepares a
 * segment of its own.  Measured (best of five): S(10^10) took 6 ms on one
 * thread, 4 ms on two; S(10^11) 17 and 12 ms; S(10^12) 76 and 38 ms.
 */
#define NGX_ASYNC_PRIMES_SUM_SHARE_MIN    10000.0


typedef unsigned __int128  ngx_async_primes_u128_t;

/* 16 bytes at a time for the pre-sieve, SSE2 or NEON where there is one */
typedef uint64_t  ngx_async_primes_v16_t __attribute__((vector_size(16)));


/* from one multiple p * k of a prime to the next with k prime to 30 */
typedef struct {
    uint8_t                     mask;   /* clears the multiple's bit */
    uint8_t                     dq;     /* bytes per p / 30 */
    uint8_t                     corr;   /* and bytes more */
} ngx_async_primes_wheel_t;


/* a sieving prime, p or p / 30, and its next multiple */
typedef struct {
    uint32_t                    p;
    uint32_t                    pos;
} ngx_async_primes_prime_t;


/*
 * The sieve of a window [lo, hi], lo >= 7: bit k of byte i stands for
 * base + 30 * i + ngx_async_primes_residues[k], set while it may be prime.
 */
typedef struct {
    uint64_t                    lo;
    uint64_t                    hi;
    uint64_t                    base;
    uint64_t                    nbytes;

    /* the current segment: bytes start to start + len - 1 */
    uint64_t                    start;
    uint64_t                    segno;
    uint64_t                    nsegs;
    size_t                      len;
    unsigned                    shift;
    uint8_t                    *seg;

    uint64_t                    small_max;
    uint64_t                    medium_max;
    uint64_t                    presieved;

    /* small: p and byte | wheel index << 26, in the order added */
    ngx_async_primes_prime_t   *small;
    size_t                      nsmall;

    /* medium: p / 30 and byte, listed by wheel index, this segment's */
    ngx_async_primes_prime_t   *medium[2][64];
    unsigned                    cur;

    /* large: p / 30 and byte | wheel index << 26, by segment mod mask */
    ngx_async_primes_prime_t  **buckets;
    uint64_t                    mask;

    ngx_async_primes_prime_t   *free;
    void                       *slabs;

    uint8_t                   **patterns;
} ngx_async_primes_sieve_t;


/* the primes from 7 to a limit, in order, made by a sieve of their own */
typedef struct {
    ngx_async_primes_sieve_t    sieve;
    uint32_t                   *tiny;
    size_t                      ntiny;
    size_t                      added;
    size_t                      w;
    size_t                      nwords;
    int                         filled;
    int                        *stop;

    uint32_t                   *batch;
    size_t                      ibatch;
    size_t                      nbatch;
} ngx_async_primes_source_t;


static int ngx_async_primes_sum_range(uint64_t a, uint64_t b,
    ngx_async_primes_sum_method_e method, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx);
static int ngx_async_primes_sum_prefix(uint64_t a, uint64_t b,
    ngx_async_primes_uint128_t *sum, ngx_async_primes_sum_ctx_t *ctx);
static uint64_t ngx_async_primes_sum_limit(uint64_t b,
    ngx_async_primes_sum_method_e method);
static double ngx_async_primes_setup_cost(uint64_t lo, uint64_t hi,
    uint64_t limit);
static double ngx_async_primes_window_cost(uint64_t lo, uint64_t hi,
    uint64_t limit);
static double ngx_async_primes_strikes(double from, double to);
static double ngx_async_primes_pi(double x);
static double ngx_async_primes_ln(double x);
static uint64_t ngx_async_primes_sum_pass(uint64_t lo, uint64_t hi,
    uint64_t limit);
static double ngx_async_primes_entries(double w, uint64_t limit);
static int ngx_async_primes_sieve_run(uint64_t a, uint64_t lo, uint64_t hi,
    uint64_t limit, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx);
static uint8_t **ngx_async_primes_patterns(void);
static int ngx_async_primes_sieve_init(ngx_async_primes_sieve_t *s,
    uint64_t lo, uint64_t hi, uint64_t limit, unsigned shift,
    uint8_t **patterns);
static void ngx_async_primes_sieve_free(ngx_async_primes_sieve_t *s);
static int ngx_async_primes_sieve_load(ngx_async_primes_sieve_t *s,
    ngx_async_primes_source_t *src, uint64_t last);
static int ngx_async_primes_sieve_add(ngx_async_primes_sieve_t *s,
    uint64_t p);
static int ngx_async_primes_sieve_add_large(ngx_async_primes_sieve_t *s,
    ngx_async_primes_source_t *src);
static int ngx_async_primes_push(ngx_async_primes_sieve_t *s,
    ngx_async_primes_prime_t **list, uint32_t p, uint32_t pos);
static ngx_async_primes_prime_t *ngx_async_primes_block(
    ngx_async_primes_sieve_t *s);
static ngx_async_primes_prime_t *ngx_async_primes_list_next(
    ngx_async_primes_sieve_t *s, ngx_async_primes_prime_t *b);
static ngx_async_primes_prime_t *ngx_async_primes_link(
    ngx_async_primes_prime_t *b);
static void ngx_async_primes_set_link(ngx_async_primes_prime_t *b,
    ngx_async_primes_prime_t *to);
static int ngx_async_primes_sieve_fill(ngx_async_primes_sieve_t *s);
static void ngx_async_primes_presieve(ngx_async_primes_sieve_t *s);
static void ngx_async_primes_cross_small(ngx_async_primes_sieve_t *s);
static int ngx_async_primes_cross_medium(ngx_async_primes_sieve_t *s);
static int ngx_async_primes_cross_large(ngx_async_primes_sieve_t *s);
static void ngx_async_primes_sieve_next(ngx_async_primes_sieve_t *s);
static uint64_t ngx_async_primes_sieve_last(ngx_async_primes_sieve_t *s);
static int ngx_async_primes_source_init(ngx_async_primes_source_t *src,
    uint64_t limit, uint8_t **patterns, int *stop);
static void ngx_async_primes_source_free(ngx_async_primes_source_t *src);
static int ngx_async_primes_source_fill(ngx_async_primes_source_t *src);
static uint32_t *ngx_async_primes_tiny_primes(uint32_t limit, size_t *n);
static void ngx_async_primes_segment_sum(const uint8_t *seg, size_t len,
    uint64_t *cnt, uint64_t *offs);
static int ngx_async_primes_segment_test(const uint8_t *seg, size_t len,
    uint64_t n0, uint64_t square, ngx_async_primes_uint128_t *total,
    ngx_async_primes_sum_ctx_t *ctx, uint64_t a);
static uint64_t ngx_async_primes_load(const uint8_t *p);
static int ngx_async_primes_stopped(int *stop);
static void ngx_async_primes_progress(ngx_async_primes_sum_ctx_t *ctx,
    uint64_t done);
static size_t ngx_async_primes_pi_bound(uint64_t x);
static int ngx_async_primes_mr(uint64_t n);
static int ngx_async_primes_mr_strong(uint64_t x, int s, uint64_t one,
    uint64_t mone, uint64_t n, uint64_t ninv);
static uint64_t ngx_async_primes_mont_mul(uint64_t a, uint64_t b,
    uint64_t n, uint64_t ninv);


static const uint8_t  ngx_async_primes_residues[8] = {
    1, 7, 11, 13, 17, 19, 23, 29
};


/* the wheel index of each residue mod 30, 8 for those not prime to 30 */
const uint8_t  ngx_async_primes_index30[30] = {
    8, 0, 8, 8, 8, 8, 8, 1, 8, 8, 8, 2, 8, 3, 8, 8, 8, 4, 8, 5, 8, 8, 8, 6,
    8, 8, 8, 8, 8, 7
};


/* what to add to k to reach the next number prime to 30 */
const uint8_t  ngx_async_primes_next30[30] = {
    1, 0, 5, 4, 3, 2, 1, 0, 3, 2, 1, 0, 1, 0, 3, 2, 1, 0, 1, 0, 3, 2, 1, 0,
    5, 4, 3, 2, 1, 0
};


/*
 * Index 8 * j + i: the multiple p * k with p = ngx_async_primes_residues[j]
 * and k = ngx_async_primes_residues[i] (mod 30); the next one is at 8 * j
 * + (i + 1) % 8.
 */
static const ngx_async_primes_wheel_t  ngx_async_primes_wheel[64] = {
    /* p = 1 (mod 30) */
    { 0xfe, 6, 0 }, { 0xfd, 4, 0 }, { 0xfb, 2, 0 }, { 0xf7, 4, 0 },
    { 0xef, 2, 0 }, { 0xdf, 4, 0 }, { 0xbf, 6, 0 }, { 0x7f, 2, 1 },
    /* p = 7 (mod 30) */
    { 0xfd, 6, 1 }, { 0xdf, 4, 1 }, { 0xef, 2, 1 }, { 0xfe, 4, 0 },
    { 0x7f, 2, 1 }, { 0xf7, 4, 1 }, { 0xfb, 6, 1 }, { 0xbf, 2, 1 },
    /* p = 11 (mod 30) */
    { 0xfb, 6, 2 }, { 0xef, 4, 2 }, { 0xfe, 2, 0 }, { 0xbf, 4, 2 },
    { 0xfd, 2, 0 }, { 0x7f, 4, 2 }, { 0xf7, 6, 2 }, { 0xdf, 2, 1 },
    /* p = 13 (mod 30) */
    { 0xf7, 6, 3 }, { 0xfe, 4, 1 }, { 0xbf, 2, 1 }, { 0xdf, 4, 2 },
    { 0xfb, 2, 1 }, { 0xfd, 4, 1 }, { 0x7f, 6, 3 }, { 0xef, 2, 1 },
    /* p = 17 (mod 30) */
    { 0xef, 6, 3 }, { 0x7f, 4, 3 }, { 0xfd, 2, 1 }, { 0xfb, 4, 2 },
    { 0xdf, 2, 1 }, { 0xbf, 4, 3 }, { 0xfe, 6, 3 }, { 0xf7, 2, 1 },
    /* p = 19 (mod 30) */
    { 0xdf, 6, 4 }, { 0xf7, 4, 2 }, { 0x7f, 2, 2 }, { 0xfd, 4, 2 },
    { 0xbf, 2, 2 }, { 0xfe, 4, 2 }, { 0xef, 6, 4 }, { 0xfb, 2, 1 },
    /* p = 23 (mod 30) */
    { 0xbf, 6, 5 }, { 0xfb, 4, 3 }, { 0xf7, 2, 1 }, { 0x7f, 4, 4 },
    { 0xfe, 2, 1 }, { 0xef, 4, 3 }, { 0xdf, 6, 5 }, { 0xfd, 2, 1 },
    /* p = 29 (mod 30) */
    { 0x7f, 6, 6 }, { 0xbf, 4, 4 }, { 0xdf, 2, 2 }, { 0xef, 4, 4 },
    { 0xf7, 2, 2 }, { 0xfb, 4, 4 }, { 0xfd, 6, 6 }, { 0xfe, 2, 1 }
};


/* bit t of a little-endian word: 30 * (t / 8) + residue t % 8 */
static const uint8_t  ngx_async_primes_bit_value[64] = {
    1, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 49, 53, 59,
    61, 67, 71, 73, 77, 79, 83, 89, 91, 97, 101, 103, 107, 109, 113, 119,
    121, 127, 131, 133, 137, 139, 143, 149, 151, 157, 161, 163, 167, 169,
    173, 179, 181, 187, 191, 193, 197, 199, 203, 209, 211, 217, 221, 223,
    227, 229, 233, 239
};


/* for each byte: its bits counted, and the sum of their residues << 4 */
static const uint16_t  ngx_async_primes_byte_sum[256] = {
    0x0000, 0x0011, 0x0071, 0x0082, 0x00b1, 0x00c2, 0x0122, 0x0133,
    0x00d1, 0x00e2, 0x0142, 0x0153, 0x0182, 0x0193, 0x01f3, 0x0204,
    0x0111, 0x0122, 0x0182, 0x0193, 0x01c2, 0x01d3, 0x0233, 0x0244,
    0x01e2, 0x01f3, 0x0253, 0x0264, 0x0293, 0x02a4, 0x0304, 0x0315,
    0x0131, 0x0142, 0x01a2, 0x01b3, 0x01e2, 0x01f3, 0x0253, 0x0264,
    0x0202, 0x0213, 0x0273, 0x0284, 0x02b3, 0x02c4, 0x0324, 0x0335,
    0x0242, 0x0253, 0x02b3, 0x02c4, 0x02f3, 0x0304, 0x0364, 0x0375,
    0x0313, 0x0324, 0x0384, 0x0395, 0x03c4, 0x03d5, 0x0435, 0x0446,
    0x0171, 0x0182, 0x01e2, 0x01f3, 0x0222, 0x0233, 0x0293, 0x02a4,
    0x0242, 0x0253, 0x02b3, 0x02c4, 0x02f3, 0x0304, 0x0364, 0x0375,
    0x0282, 0x0293, 0x02f3, 0x0304, 0x0333, 0x0344, 0x03a4, 0x03b5,
    0x0353, 0x0364, 0x03c4, 0x03d5, 0x0404, 0x0415, 0x0475, 0x0486,
    0x02a2, 0x02b3, 0x0313, 0x0324, 0x0353, 0x0364, 0x03c4, 0x03d5,
    0x0373, 0x0384, 0x03e4, 0x03f5, 0x0424, 0x0435, 0x0495, 0x04a6,
    0x03b3, 0x03c4, 0x0424, 0x0435, 0x0464, 0x0475, 0x04d5, 0x04e6,
    0x0484, 0x0495, 0x04f5, 0x0506, 0x0535, 0x0546, 0x05a6, 0x05b7,
    0x01d1, 0x01e2, 0x0242, 0x0253, 0x0282, 0x0293, 0x02f3, 0x0304,
    0x02a2, 0x02b3, 0x0313, 0x0324, 0x0353, 0x0364, 0x03c4, 0x03d5,
    0x02e2, 0x02f3, 0x0353, 0x0364, 0x0393, 0x03a4, 0x0404, 0x0415,
    0x03b3, 0x03c4, 0x0424, 0x0435, 0x0464, 0x0475, 0x04d5, 0x04e6,
    0x0302, 0x0313, 0x0373, 0x0384, 0x03b3, 0x03c4, 0x0424, 0x0435,
    0x03d3, 0x03e4, 0x0444, 0x0455, 0x0484, 0x0495, 0x04f5, 0x0506,
    0x0413, 0x0424, 0x0484, 0x0495, 0x04c4, 0x04d5, 0x0535, 0x0546,
    0x04e4, 0x04f5, 0x0555, 0x0566, 0x0595, 0x05a6, 0x0606, 0x0617,
    0x0342, 0x0353, 0x03b3, 0x03c4, 0x03f3, 0x0404, 0x0464, 0x0475,
    0x0413, 0x0424, 0x0484, 0x0495, 0x04c4, 0x04d5, 0x0535, 0x0546,
    0x0453, 0x0464, 0x04c4, 0x04d5, 0x0504, 0x0515, 0x0575, 0x0586,
    0x0524, 0x0535, 0x0595, 0x05a6, 0x05d5, 0x05e6, 0x0646, 0x0657,
    0x0473, 0x0484, 0x04e4, 0x04f5, 0x0524, 0x0535, 0x0595, 0x05a6,
    0x0544, 0x0555, 0x05b5, 0x05c6, 0x05f5, 0x0606, 0x0666, 0x0677,
    0x0584, 0x0595, 0x05f5, 0x0606, 0x0635, 0x0646, 0x06a6, 0x06b7,
    0x0655, 0x0666, 0x06c6, 0x06d7, 0x0706, 0x0717, 0x0777, 0x0788
};


/*
 * The pre-sieved primes in groups whose product, the period of their
 * pattern in bytes, stays within the L2 cache.
 */
static const uint8_t  ngx_async_primes_groups[NGX_ASYNC_PRIMES_SUM_PATTERNS][5]
    = {
    { 7, 11, 13, 17, 0 }, { 19, 23, 29, 0 }, { 31, 37, 41, 0 },
    { 43, 47, 53, 0 }, { 59, 61, 0 }, { 67, 71, 0 }, { 73, 79, 0 },
    { 83, 89, 0 }
};

static const uint32_t  ngx_async_primes_periods[NGX_ASYNC_PRIMES_SUM_PATTERNS]
    = {
    7 * 11 * 13 * 17, 19 * 23 * 29, 31 * 37 * 41, 43 * 47 * 53, 59 * 61,
    67 * 71, 73 * 79, 83 * 89
};


int
ngx_async_primes_sum(uint64_t a, uint64_t b, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx)
{
    return ngx_async_primes_sum_method(a, b, NGX_ASYNC_PRIMES_SUM_AUTO, sum,
                                       ctx);
}


int
ngx_async_primes_sum_method(uint64_t a, uint64_t b,
    ngx_async_primes_sum_method_e method, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx)
{
    int  rc;

    *sum = 0;

    if (a == 0) {
        a = 1;
    }

    if (ctx != NULL) {
        __atomic_store_n(&ctx->done, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ctx->total, a > b ? 0 : b - a + 1,
                         __ATOMIC_RELAXED);
    }

    if (a > b) {
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    /* a job stopped before it starts sets up nothing */

    if (ctx != NULL && ngx_async_primes_stopped(&ctx->stop)) {
        return NGX_ASYNC_PRIMES_SUM_STOPPED;
    }

    if (method == NGX_ASYNC_PRIMES_SUM_AUTO) {
        method = ngx_async_primes_sum_pick(a, b);
    }

    rc = ngx_async_primes_sum_range(a, b, method, sum, ctx);

    if (rc == NGX_ASYNC_PRIMES_SUM_OK && ctx != NULL) {
        ngx_async_primes_progress(ctx, b - a + 1);
    }

    return rc;
}


ngx_async_primes_sum_method_e
ngx_async_primes_sum_pick(uint64_t a, uint64_t b)
{
    uint64_t                       cost, c;
    ngx_async_primes_sum_method_e  method;

    method = NGX_ASYNC_PRIMES_SUM_SIEVE;
    cost = ngx_async_primes_sum_method_cost(a, b, method);

    c = ngx_async_primes_sum_method_cost(a, b, NGX_ASYNC_PRIMES_SUM_MR);

    if (c < cost) {
        method = NGX_ASYNC_PRIMES_SUM_MR;
        cost = c;
    }

    c = ngx_async_primes_sum_method_cost(a, b, NGX_ASYNC_PRIMES_SUM_PREFIX);

    if (c < cost) {
        method = NGX_ASYNC_PRIMES_SUM_PREFIX;
    }

    return method;
}


uint64_t
ngx_async_primes_sum_cost(uint64_t a, uint64_t b)
{
    return ngx_async_primes_sum_method_cost(a, b,
                                            ngx_async_primes_sum_pick(a, b));
}


/*
 * The model, by ngx_async_primes_setup_cost() once a pass and
 * ngx_async_primes_window_cost(); the prefix sums have their own.  Some of
 * the measurements it was fitted to (one core, the least CPU time of
 * several runs; S sieve, M Miller-Rabin), microseconds:
 *
 *   a             b - a + 1   measured     model
 *   10^4          1       S            34          21
 *   10^12         1       S           622         545
 *   10^15         1       S        15 166      13 131
 *   10^18         1       S       365 496     411 134
 *   2^64 - 10^3   10^3    S     1 678 927   1 765 369
 *   1             10^6    S           228         239
 *   1             10^9    S       217 112     202 706
 *   10^9          10^9    S       219 084     210 678
 *   10^12         10^6    S         1 607       1 171
 *   10^12         10^8    S        33 510      33 130
 *   10^12         10^9    S       319 322     324 799
 *   10^13         10^9    S       448 936     489 720
 *   10^15         10^6    S        13 798      14 220
 *   10^15         10^8    S        92 868      91 820
 *   10^15         10^9    S       656 640     798 297
 *   10^17         10^8    S       281 732     234 760
 *   10^18         10^6    S       384 189     412 602
 *   10^18         10^8    S       570 501     527 649
 *   2^64 - 10^8   10^8    S     2 032 536   1 895 981
 *   10^10         10^6    M        40 026      38 085
 *   10^12         10^3    M            94          91
 *   10^12         10^7    M       434 700     414 255
 *   10^15         10^6    M        47 785      46 831
 *   10^18         10^6    M        49 885      52 079
 *   10^18         10^7    M       500 316     519 211
 *   2^64 - 10^6   10^6    M        57 417      54 293
 *   2^64 - 10^8   10^8    M     5 867 758   5 412 107
 *
 * Over 83 such points the model is within 25% but for a few: windows of
 * a single number below 10^9 (30 us against 22) and some around 10^6
 * numbers at 10^12 to 10^16 (up to 1.35 times more than the model).
 */

uint64_t
ngx_async_primes_sum_method_cost(uint64_t a, uint64_t b,
    ngx_async_primes_sum_method_e method)
{
    double    cost;
    uint64_t  lo, limit, width, passes;

    if (a == 0) {
        a = 1;
    }

    if (a > b) {
        return 0;
    }

    switch (method) {

    case NGX_ASYNC_PRIMES_SUM_AUTO:
        return ngx_async_primes_sum_cost(a, b);

    case NGX_ASYNC_PRIMES_SUM_PREFIX:
        cost = (double) ngx_async_primes_prefix_cost(b);

        if (a > 2) {
            cost += (double) ngx_async_primes_prefix_cost(a - 1);
        }

        break;

    default:
        lo = (a < 7) ? 7 : a;

        if (lo > b) {
            cost = 1;
            break;
        }

        limit = ngx_async_primes_sum_limit(b, method);
        width = ngx_async_primes_sum_pass(lo, b, limit);
        passes = (b - lo) / width + 1;

        cost = (double) passes
               * ngx_async_primes_setup_cost(lo, (b - lo < width)
                                                 ? b : lo + width - 1, limit)
               + ngx_async_primes_window_cost(lo, b, limit);
    }

    return (cost < 1) ? 1 : (cost > 1e18) ? (uint64_t) 1e18 : (uint64_t) cost;
}


/*
 * Each part picks its method and pays its setup again: m parts are worth
 * it while each costs NGX_ASYNC_PRIMES_SUM_PART_MIN or more and all of
 * them together at most 1 / NGX_ASYNC_PRIMES_SUM_SPLIT_EFFICIENCY times
 * the whole in one piece.  The parts are of about equal cost rather than
 * equal width: the cost of a number grows along the range.
 */

unsigned
ngx_async_primes_sum_split(uint64_t a, uint64_t b, unsigned n, uint64_t *lo,
    uint64_t *hi)
{
    double                         whole, part, acc, c[65];
    unsigned                       i, k, m;
    uint64_t                       x, y, w, limit, step, first;
    ngx_async_primes_sum_method_e  method;

    lo[0] = a;
    hi[0] = b;

    first = (a == 0) ? 1 : a;

    if (n <= 1 || first >= b || b < 7
        || ngx_async_primes_sum_pick(first, b) == NGX_ASYNC_PRIMES_SUM_PREFIX)
    {
        return 1;
    }

    whole = (double) ngx_async_primes_sum_cost(first, b);
    m = 1;
    method = NGX_ASYNC_PRIMES_SUM_SIEVE;

    for (k = 2; k <= n && k <= b - first + 1; k++) {

        /* the last part, whose numbers cost the most */

        w = (b - first) / k + 1;
        part = (double) ngx_async_primes_sum_cost(b - w + 1, b);

        if (part < NGX_ASYNC_PRIMES_SUM_PART_MIN) {
            break;
        }

        if (whole >= NGX_ASYNC_PRIMES_SUM_SPLIT_EFFICIENCY * k * part) {
            m = k;
            method = ngx_async_primes_sum_pick(b - w + 1, b);
        }
    }

    if (m == 1) {
        return 1;
    }

    limit = ngx_async_primes_sum_limit(b, method);

    /* the cumulative cost of 64 equal steps, the boundaries within them */

    step = (b - a) / 64 + 1;
    c[0] = 0;

    for (k = 0; k < 64; k++) {
        x = k * step;

        if (x > b - a) {
            c[k + 1] = c[k];
            continue;
        }

        y = a + x;
        x = (b - y < step) ? b : y + step - 1;

        c[k + 1] = c[k] + ngx_async_primes_window_cost(y < 7 ? 7 : y,
                                                       x < 7 ? 7 : x, limit)
                   + (double) (x - y + 1) * 1e-9;
    }

    k = 0;

    for (i = 0; i + 1 < m; i++) {
        acc = c[64] * (i + 1) / m;

        while (k < 63 && c[k + 1] < acc) {
            k++;
        }

        y = a + k * step;

        if (c[k + 1] > c[k]) {
            x = (uint64_t) ((double) step * (acc - c[k]) / (c[k + 1] - c[k]));
            y += (x < b - y) ? x : b - y;
        }

        /* in order, none empty */

        if (y < lo[i] + 1) {
            y = lo[i] + 1;
        }

        if (y > b - (m - 2 - i)) {
            y = b - (m - 2 - i);
        }

        hi[i] = y - 1;
        lo[i + 1] = y;
    }

    hi[m - 1] = b;

    return m;
}


/*
 * A thread more pays where the range is computed as S(b) - S(a - 1) and
 * each thread's share still costs NGX_ASYNC_PRIMES_SUM_SHARE_MIN.
 */

unsigned
ngx_async_primes_sum_shared(uint64_t a, uint64_t b, unsigned n)
{
    unsigned  k;
    uint64_t  cost;

    if (a == 0) {
        a = 1;
    }

    if (n <= 1 || a > b) {
        return 1;
    }

    /* the prefix method's cost first: a small job needs no choice made */

    cost = ngx_async_primes_sum_method_cost(a, b,
                                            NGX_ASYNC_PRIMES_SUM_PREFIX);

    if ((double) cost / 2 < NGX_ASYNC_PRIMES_SUM_SHARE_MIN
        || ngx_async_primes_sum_pick(a, b) != NGX_ASYNC_PRIMES_SUM_PREFIX)
    {
        return 1;
    }

    for (k = n; k > 1; k--) {
        if ((double) cost / k >= NGX_ASYNC_PRIMES_SUM_SHARE_MIN) {
            return k;
        }
    }

    return 1;
}


ngx_async_primes_sum_plan_t *
ngx_async_primes_sum_plan(uint64_t a, uint64_t b, unsigned n)
{
    if (a == 0) {
        a = 1;
    }

    return ngx_async_primes_prefix_plan(b, a - 1, n);
}


int
ngx_async_primes_sum_share(ngx_async_primes_sum_plan_t *plan,
    ngx_async_primes_uint128_t *sum, ngx_async_primes_sum_ctx_t *ctx)
{
    return ngx_async_primes_prefix_run(plan, sum, ctx);
}


void
ngx_async_primes_sum_plan_free(ngx_async_primes_sum_plan_t *plan)
{
    ngx_async_primes_prefix_plan_free(plan);
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


int
ngx_async_primes_is_prime(uint64_t n)
{
    size_t  i;

    static const uint8_t  small[] = {
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61
    };

    for (i = 0; i < sizeof(small); i++) {
        if (n % small[i] == 0) {
            return n == small[i];
        }
    }

    if (n < 61 * 61) {
        return n > 1;
    }

    return ngx_async_primes_mr(n);
}


static uint64_t
ngx_async_primes_sum_limit(uint64_t b, ngx_async_primes_sum_method_e method)
{
    uint64_t  limit;

    limit = ngx_async_primes_isqrt(b);

    if (method == NGX_ASYNC_PRIMES_SUM_MR
        && limit > NGX_ASYNC_PRIMES_SUM_MR_LIMIT)
    {
        limit = NGX_ASYNC_PRIMES_SUM_MR_LIMIT;
    }

    return limit;
}


/* setting a pass up: finding the sieving primes up to limit, placing them */

static double
ngx_async_primes_setup_cost(uint64_t lo, uint64_t hi, uint64_t limit)
{
    double  cost;

    cost = NGX_ASYNC_PRIMES_SUM_COST_FIXED
           + (double) limit * NGX_ASYNC_PRIMES_SUM_COST_SOURCE;

    if ((hi - lo) / 30 + limit / 30 >= NGX_ASYNC_PRIMES_SUM_PATTERN_MIN) {
        cost += NGX_ASYNC_PRIMES_SUM_COST_PATTERNS;
    }

    return cost;
}


/*
 * Sieving [lo, hi] by the primes up to limit, and summing: the strikes
 * of the small and the large primes, the visits of the medium ones to the
 * segments, as ngx_async_primes_sieve_init() sorts them; Miller-Rabin
 * for the survivors if limit is below isqrt(hi).
 */

static double
ngx_async_primes_window_cost(uint64_t lo, uint64_t hi, uint64_t limit)
{
    double    w, r, small, medium, cost, lnx, found, survivors, bits;
    uint64_t  nbytes, len, nsegs;

    w = (double) (hi - lo) + 1;
    r = (double) limit;

    nbytes = (hi - (lo - lo % 30)) / 30 + 1;
    nsegs = ((nbytes - 1) >> NGX_ASYNC_PRIMES_SUM_SHIFT) + 1;
    len = (nsegs > 1) ? (uint64_t) 1 << NGX_ASYNC_PRIMES_SUM_SHIFT : nbytes;

    small = (double) (len / 4);
    medium = (double) (len * 4);

    cost = w * (ngx_async_primes_strikes(NGX_ASYNC_PRIMES_SUM_PRESIEVED,
                                         r < small ? r : small)
                * NGX_ASYNC_PRIMES_SUM_COST_SMALL
                + ngx_async_primes_strikes(medium, r)
                  * NGX_ASYNC_PRIMES_SUM_COST_LARGE);

    if (r > small && r > NGX_ASYNC_PRIMES_SUM_PRESIEVED) {
        cost += (ngx_async_primes_pi(r < medium ? r : medium)
                 - ngx_async_primes_pi(small > NGX_ASYNC_PRIMES_SUM_PRESIEVED
                                       ? small
                                       : NGX_ASYNC_PRIMES_SUM_PRESIEVED))
                * (double) nsegs * NGX_ASYNC_PRIMES_SUM_COST_MEDIUM;
    }

    if (limit >= ngx_async_primes_isqrt(hi)) {
        return cost;
    }

    /*
     * Miller-Rabin: about e^-gamma / ln(limit) of the numbers have no
     * factor up to limit (Mertens); each costs a test to base 2, a prime
     * all of them, in squarings as many as the bits of the number.
     */

    lnx = ngx_async_primes_ln((double) hi);
    found = 1 / lnx;
    survivors = 0.5615 / ngx_async_primes_ln(r);
    bits = lnx / 0.6931;

    if (survivors < found) {
        survivors = found;
    }

    return cost + w * bits
                  * ((survivors - found) * NGX_ASYNC_PRIMES_SUM_COST_SPRP
                     + found * NGX_ASYNC_PRIMES_SUM_COST_MR);
}


/*
 * The multiples of p prime to 30 are 8 / 30 / p of the numbers: the
 * sieving primes from "from" to "to" strike about 8 / 30 * (ln ln to -
 * ln ln from) times a number.
 */

static double
ngx_async_primes_strikes(double from, double to)
{
    if (from < NGX_ASYNC_PRIMES_SUM_PRESIEVED) {
        from = NGX_ASYNC_PRIMES_SUM_PRESIEVED;
    }

    if (to <= from) {
        return 0;
    }

    return 8.0 / 30 * (ngx_async_primes_ln(ngx_async_primes_ln(to))
                       - ngx_async_primes_ln(ngx_async_primes_ln(from)));
}


/* about pi(x), for the model */

static double
ngx_async_primes_pi(double x)
{
    if (x < 100) {
        return x / 4;
    }

    return x / (ngx_async_primes_ln(x) - 1.1);
}


/*
 * The natural logarithm without libm, to a few parts per million: x = 2^k
 * m with 1 <= m < 2, and ln m = 2 atanh(z) with z = (m - 1) / (m + 1) <=
 * 1/3.
 */

static double
ngx_async_primes_ln(double x)
{
    int     k;
    double  z, z2;

    if (x <= 1) {
        return 0;
    }

    k = 0;

    while (x >= 65536) {
        x /= 65536;
        k += 16;
    }

    while (x >= 2) {
        x /= 2;
        k++;
    }

    z = (x - 1) / (x + 1);
    z2 = z * z;

    return k * 0.69314718055994531
           + 2 * z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7
                                                          + z2 / 9))));
}


/*
 * The width of the passes a window is sieved in, so that the large sieving
 * primes with a multiple in a pass, each an 8-byte bucket entry, stay below
 * NGX_ASYNC_PRIMES_SUM_ENTRIES; UINT64_MAX if one pass will do.
 */

static uint64_t
ngx_async_primes_sum_pass(uint64_t lo, uint64_t hi, uint64_t limit)
{
    int     i;
    double  w, wlo, whi;

    w = (double) (hi - lo) + 1;

    if (ngx_async_primes_entries(w, limit) <= NGX_ASYNC_PRIMES_SUM_ENTRIES) {
        return UINT64_MAX;
    }

    /* entries grow with the width: bisection, from 2^25 numbers */

    wlo = 33554432.0;
    whi = w;

    for (i = 0; i < 40; i++) {
        w = (wlo + whi) / 2;

        if (ngx_async_primes_entries(w, limit)
            <= NGX_ASYNC_PRIMES_SUM_ENTRIES)
        {
            wlo = w;

        } else {
            whi = w;
        }
    }

    return (uint64_t) wlo;
}


/*
 * The large sieving primes with a multiple in a window of w numbers: about
 * all those up to x = 8 / 30 * w, and x / p of each one p above.
 */

static double
ngx_async_primes_entries(double w, uint64_t limit)
{
    double  x, r, m, e;

    r = (double) limit;
    m = (double) NGX_ASYNC_PRIMES_SUM_MEDIUM;

    if (r <= m) {
        return 0;
    }

    x = w * 8 / 30;

    if (x >= r) {
        return ngx_async_primes_pi(r) - ngx_async_primes_pi(m);
    }

    e = 0;

    if (x > m) {
        e = ngx_async_primes_pi(x) - ngx_async_primes_pi(m);

    } else {
        x = m;
    }

    return e + w * 8 / 30 * (ngx_async_primes_ln(ngx_async_primes_ln(r))
                             - ngx_async_primes_ln(ngx_async_primes_ln(x)));
}


static int
ngx_async_primes_sum_range(uint64_t a, uint64_t b,
    ngx_async_primes_sum_method_e method, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx)
{
    int                          rc;
    uint64_t                     p, lo, hi, limit, width;
    ngx_async_primes_uint128_t   total, part;

    if (method == NGX_ASYNC_PRIMES_SUM_PREFIX) {
        return ngx_async_primes_sum_prefix(a, b, sum, ctx);
    }

    /* 2, 3 and 5 are not on the wheel */

    total = 0;

    for (p = 2; p <= 5; p += p - 1) {
        if (a <= p && p <= b) {
            total += p;
        }
    }

    lo = (a < 7) ? 7 : a;

    if (lo > b) {
        *sum = total;
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    limit = ngx_async_primes_sum_limit(b, method);
    width = ngx_async_primes_sum_pass(lo, b, limit);

    for ( ;; ) {
        hi = (b - lo < width) ? b : lo + width - 1;

        rc = ngx_async_primes_sieve_run(a, lo, hi, limit, &part, ctx);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            return rc;
        }

        total += part;

        if (hi == b) {
            break;
        }

        lo = hi + 1;
    }

    *sum = total;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/*
 * S(b) - S(a - 1).  Each prefix sum reports its own progress, in its own
 * units: the smaller one first, so that the restart is early; the total
 * is the range's again once they return.
 */

static int
ngx_async_primes_sum_prefix(uint64_t a, uint64_t b,
    ngx_async_primes_uint128_t *sum, ngx_async_primes_sum_ctx_t *ctx)
{
    int                           rc;
    ngx_async_primes_uint128_t    sa;
    ngx_async_primes_sum_plan_t  *plan;

    if (b < NGX_ASYNC_PRIMES_PREFIX_SMALL) {

        /* two plain sieves: no plan to allocate */

        sa = 0;
        rc = NGX_ASYNC_PRIMES_SUM_OK;

        if (a > 2) {
            rc = ngx_async_primes_prefix_sum(a - 1, &sa, NULL);
        }

        if (rc == NGX_ASYNC_PRIMES_SUM_OK) {
            rc = ngx_async_primes_prefix_sum(b, sum, ctx);
        }

        if (rc == NGX_ASYNC_PRIMES_SUM_OK) {
            *sum -= sa;
        }

    } else {
        plan = ngx_async_primes_prefix_plan(b, a - 1, 1);
        if (plan == NULL) {
            return NGX_ASYNC_PRIMES_SUM_NOMEM;
        }

        rc = ngx_async_primes_prefix_run(plan, sum, ctx);

        ngx_async_primes_prefix_plan_free(plan);
    }

    if (ctx != NULL) {
        __atomic_store_n(&ctx->total, b - a + 1, __ATOMIC_RELAXED);
    }

    return rc;
}
/*
 * Sums the primes of [lo, hi], 7 <= lo, sieving with the primes up to
 * limit; survivors above limit^2 go through Miller-Rabin.  Progress counts
 * from a, the start of the job.
 */

static int
ngx_async_primes_sieve_run(uint64_t a, uint64_t lo, uint64_t hi,
    uint64_t limit, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx)
{
    int                          rc, *stop;
    uint8_t                    **patterns;
    uint64_t                     n0, last, cnt, offs, square;
    ngx_async_primes_sieve_t     s;
    ngx_async_primes_source_t    src;
    ngx_async_primes_uint128_t   total;

    *sum = 0;

    stop = (ctx != NULL) ? &ctx->stop : NULL;

    if (ngx_async_primes_stopped(stop)) {
        return NGX_ASYNC_PRIMES_SUM_STOPPED;
    }

    patterns = NULL;

    if ((hi - lo) / 30 + limit / 30 >= NGX_ASYNC_PRIMES_SUM_PATTERN_MIN) {
        patterns = ngx_async_primes_patterns();
        if (patterns == NULL) {
            return NGX_ASYNC_PRIMES_SUM_NOMEM;
        }
    }

    rc = ngx_async_primes_source_init(&src, limit, patterns, stop);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        free(patterns);
        return rc;
    }

    rc = ngx_async_primes_sieve_init(&s, lo, hi, limit,
                                     NGX_ASYNC_PRIMES_SUM_SHIFT, patterns);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        ngx_async_primes_source_free(&src);
        free(patterns);
        return rc;
    }

    /*
     * Survivors up to square have no factor up to limit, so are prime; all
     * are when limit is isqrt(hi).
     */

    square = (limit >= ngx_async_primes_isqrt(hi)) ? hi : limit * limit;

    total = 0;

    while (s.segno < s.nsegs) {

        if (ngx_async_primes_stopped(stop)) {
            rc = NGX_ASYNC_PRIMES_SUM_STOPPED;
            break;
        }

        last = ngx_async_primes_sieve_last(&s);

        rc = ngx_async_primes_sieve_load(&s, &src, last);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            break;
        }

        rc = ngx_async_primes_sieve_fill(&s);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            break;
        }

        n0 = s.base + 30 * s.start;

        if (last <= square) {
            ngx_async_primes_segment_sum(s.seg, s.len, &cnt, &offs);
            total += (ngx_async_primes_uint128_t) cnt * n0 + offs;

        } else {
            rc = ngx_async_primes_segment_test(s.seg, s.len, n0, square,
                                               &total, ctx, a);
            if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                break;
            }
        }

        if (ctx != NULL) {
            ngx_async_primes_progress(ctx, last - a + 1);
        }

        ngx_async_primes_sieve_next(&s);
    }

    ngx_async_primes_sieve_free(&s);
    ngx_async_primes_source_free(&src);
    free(patterns);

    if (rc == NGX_ASYNC_PRIMES_SUM_OK) {
        *sum = total;
    }

    return rc;
}


static uint8_t **
ngx_async_primes_patterns(void)
{
    size_t     i, k, size;
    uint8_t  **patterns, *pat, mask;
    uint64_t   p, m, x, j, period;

    size = NGX_ASYNC_PRIMES_SUM_PATTERNS * sizeof(uint8_t *);

    for (i = 0; i < NGX_ASYNC_PRIMES_SUM_PATTERNS; i++) {
        size += ngx_async_primes_periods[i];
    }

    patterns = malloc(size);
    if (patterns == NULL) {
        return NULL;
    }

    pat = (uint8_t *) (patterns + NGX_ASYNC_PRIMES_SUM_PATTERNS);

    for (i = 0; i < NGX_ASYNC_PRIMES_SUM_PATTERNS; i++) {
        period = ngx_async_primes_periods[i];

        patterns[i] = pat;
        memset(pat, 0xff, period);

        for (k = 0; ngx_async_primes_groups[i][k] != 0; k++) {
            p = ngx_async_primes_groups[i][k];

            /* the multiples p * (30 * t + r) are p bytes apart */

            for (x = 0; x < 8; x++) {
                m = p * ngx_async_primes_residues[x];
                mask = (uint8_t) ~(1u << ngx_async_primes_index30[m % 30]);

                for (j = m / 30; j < period; j += p) {
                    pat[j] &= mask;
                }
            }
        }

        pat += period;
    }

    return patterns;
}


static int
ngx_async_primes_sieve_init(ngx_async_primes_sieve_t *s, uint64_t lo,
    uint64_t hi, uint64_t limit, unsigned shift, uint8_t **patterns)
{
    uint64_t  n, step;

    memset(s, 0, sizeof(ngx_async_primes_sieve_t));

    s->lo = lo;
    s->hi = hi;
    s->base = lo - lo % 30;
    s->nbytes = (hi - s->base) / 30 + 1;
    s->shift = shift;
    s->nsegs = ((s->nbytes - 1) >> shift) + 1;
    s->len = (s->nbytes < ((uint64_t) 1 << shift))
             ? (size_t) s->nbytes : (size_t) 1 << shift;

    /*
     * The classes go by the hits in a segment: for a window shorter than
     * a segment, by the hits in the window.
     */

    s->small_max = s->len / 4;
    s->medium_max = s->len * 4;
    s->patterns = patterns;
    s->presieved = (patterns != NULL) ? NGX_ASYNC_PRIMES_SUM_PRESIEVED : 5;

    /* and 8 bytes more: Miller-Rabin reads the survivors a word at a time */

    s->seg = malloc(s->len + 8);
    s->small = malloc(ngx_async_primes_pi_bound(limit < s->small_max
                                                ? limit : s->small_max)
                      * sizeof(ngx_async_primes_prime_t));

    if (s->seg == NULL || s->small == NULL) {
        ngx_async_primes_sieve_free(s);
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    if (limit <= s->medium_max) {
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    /*
     * A large prime's next multiple is at most 6 * (p / 30) + 6 bytes
     * ahead: that many segments and one more for the offset within the
     * current one need buckets of their own: 3278 for p < 2^32, so 4096.
     */

    step = limit / 30 * 6 + 6;
    n = (step >> shift) + 2;

    if (n > s->nsegs) {
        n = s->nsegs;
    }

    for (s->mask = 1; s->mask < n; s->mask *= 2) { /* void */ }

    s->buckets = calloc(s->mask, sizeof(ngx_async_primes_prime_t *));
    s->mask--;

    if (s->buckets == NULL) {
        ngx_async_primes_sieve_free(s);
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static void
ngx_async_primes_sieve_free(ngx_async_primes_sieve_t *s)
{
    void  *slab;

    while (s->slabs != NULL) {
        slab = s->slabs;
        memcpy(&s->slabs, slab, sizeof(void *));
        free(slab);
    }

    free(s->buckets);
    free(s->small);
    free(s->seg);

    s->buckets = NULL;
    s->small = NULL;
    s->seg = NULL;
}


/* adds the sieving primes whose multiples start up to last */

static int
ngx_async_primes_sieve_load(ngx_async_primes_sieve_t *s,
    ngx_async_primes_source_t *src, uint64_t last)
{
    int       rc;
    uint64_t  p;

    for ( ;; ) {

        if (src->ibatch == src->nbatch) {
            rc = ngx_async_primes_source_fill(src);
            if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                return rc;
            }

            if (src->nbatch == 0) {
                return NGX_ASYNC_PRIMES_SUM_OK;
            }
        }

        if (s->buckets != NULL) {
            rc = ngx_async_primes_sieve_add_large(s, src);
            if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                return rc;
            }
        }

        while (src->ibatch < src->nbatch) {
            p = src->batch[src->ibatch];

            if (p * p > last) {
                return NGX_ASYNC_PRIMES_SUM_OK;
            }

            rc = ngx_async_primes_sieve_add(s, p);
            if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                return rc;
            }

            src->ibatch++;
        }
    }
}


/* a sieving prime p > 7, its multiples struck from p^2 or this segment */

static int
ngx_async_primes_sieve_add(ngx_async_primes_sieve_t *s, uint64_t p)
{
    uint32_t                   wi;
    uint64_t                   k, n0, pos;
    ngx_async_primes_u128_t    m;
    ngx_async_primes_prime_t  *e;

    if (p <= s->presieved) {
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    n0 = s->base + 30 * s->start;

    if (p * p >= n0) {
        k = p;
        m = p * p;

    } else {
        /* the first multiple from n0 whose cofactor is prime to 30 */
        k = (n0 - 1) / p + 1;
        k += ngx_async_primes_next30[k % 30];
        m = (ngx_async_primes_u128_t) p * k;
    }

    if (m > s->hi) {
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    pos = (uint64_t) (m - n0) / 30;
    wi = ngx_async_primes_index30[p % 30] * 8
         + ngx_async_primes_index30[k % 30];

    if (p <= s->small_max) {
        e = &s->small[s->nsmall++];
        e->p = (uint32_t) p;
        e->pos = (uint32_t) pos | wi << NGX_ASYNC_PRIMES_SUM_POS_BITS;

        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    if (p <= s->medium_max) {
        return ngx_async_primes_push(s, &s->medium[s->cur][wi],
                                     (uint32_t) (p / 30), (uint32_t) pos);
    }

    return ngx_async_primes_push(s,
               &s->buckets[(s->segno + (pos >> s->shift)) & s->mask],
               (uint32_t) (p / 30),
               (uint32_t) (pos & (((uint64_t) 1 << s->shift) - 1))
               | wi << NGX_ASYNC_PRIMES_SUM_POS_BITS);
}


/*
 * The run of large primes of the batch whose squares are below the
 * segment: the bulk of the sieving primes of a window high up, most of
 * them with no multiple in it.  One division gives the first multiple.
 */

static int
ngx_async_primes_sieve_add_large(ngx_async_primes_sieve_t *s,
    ngx_async_primes_source_t *src)
{
    int        rc;
    size_t     i, n;
    uint32_t   wi, *batch;
    uint64_t   p, n0, q, r, d, k, t, span, pos, mask;

    n0 = s->base + 30 * s->start;
    span = s->hi - n0;
    mask = ((uint64_t) 1 << s->shift) - 1;
    batch = src->batch;
    n = src->nbatch;

    for (i = src->ibatch; i < n; i++) {
        p = batch[i];

        if (p <= s->medium_max || p * p >= n0) {
            break;
        }

        q = n0 / p;
        r = n0 - q * p;

        /* the first multiple p * k from n0 is d past it */

        k = q + (r != 0);
        d = (r != 0) ? p - r : 0;

        /* the next k prime to 30 */

        t = k % 30;
        k = ngx_async_primes_next30[t];
        d += k * p;

        if (d > span) {
            continue;
        }

        pos = d / 30;
        wi = ngx_async_primes_index30[p % 30] * 8
             + ngx_async_primes_index30[t + k];

        rc = ngx_async_primes_push(s,
                 &s->buckets[(s->segno + (pos >> s->shift)) & s->mask],
                 (uint32_t) (p / 30),
                 (uint32_t) (pos & mask) | wi << NGX_ASYNC_PRIMES_SUM_POS_BITS);

        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            src->ibatch = i;
            return rc;
        }
    }

    src->ibatch = i;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static inline int
ngx_async_primes_push(ngx_async_primes_sieve_t *s,
    ngx_async_primes_prime_t **list, uint32_t p, uint32_t pos)
{
    ngx_async_primes_prime_t  *t, *b;

    t = *list;

    /* NULL for an empty list, the end of its block for a full one */

    if (((uintptr_t) t & (NGX_ASYNC_PRIMES_SUM_BLOCK - 1)) == 0) {
        b = ngx_async_primes_block(s);
        if (b == NULL) {
            return NGX_ASYNC_PRIMES_SUM_NOMEM;
        }

        if (t != NULL) {
            t -= NGX_ASYNC_PRIMES_SUM_BLOCK / sizeof(ngx_async_primes_prime_t);
        }

        ngx_async_primes_set_link(b, t);
        t = b + 1;
    }

    t->p = p;
    t->pos = pos;
    *list = t + 1;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static ngx_async_primes_prime_t *
ngx_async_primes_block(ngx_async_primes_sieve_t *s)
{
    size_t                     i;
    uint8_t                   *slab;
    uintptr_t                  first;
    ngx_async_primes_prime_t  *b;

    if (s->free == NULL) {
        slab = malloc((NGX_ASYNC_PRIMES_SUM_SLAB + 1)
                      * NGX_ASYNC_PRIMES_SUM_BLOCK);
        if (slab == NULL) {
            return NULL;
        }

        /* the slab's first bytes link the slabs, the blocks are aligned */

        memcpy(slab, &s->slabs, sizeof(void *));
        s->slabs = slab;

        first = ((uintptr_t) slab + sizeof(void *) + NGX_ASYNC_PRIMES_SUM_BLOCK
                 - 1) & ~(uintptr_t) (NGX_ASYNC_PRIMES_SUM_BLOCK - 1);

        for (i = 0; i < NGX_ASYNC_PRIMES_SUM_SLAB; i++) {
            b = (ngx_async_primes_prime_t *)
                    (first + i * NGX_ASYNC_PRIMES_SUM_BLOCK);
            ngx_async_primes_set_link(b, s->free);
            s->free = b;
        }
    }

    b = s->free;
    s->free = ngx_async_primes_link(b);

    return b;
}


/*
 * Frees block b, the one that holds the last entries of a list, and
 * returns the list that is left: the end of the previous block, or NULL.
 */

static ngx_async_primes_prime_t *
ngx_async_primes_list_next(ngx_async_primes_sieve_t *s,
    ngx_async_primes_prime_t *b)
{
    ngx_async_primes_prime_t  *prev;

    prev = ngx_async_primes_link(b);
    ngx_async_primes_set_link(b, s->free);
    s->free = b;

    if (prev == NULL) {
        return NULL;
    }

    return prev + NGX_ASYNC_PRIMES_SUM_BLOCK / sizeof(ngx_async_primes_prime_t);
}


/* the first 8 bytes of a block: a pointer to another block */

static ngx_async_primes_prime_t *
ngx_async_primes_link(ngx_async_primes_prime_t *b)
{
    void  *p;

    memcpy(&p, (void *) b, sizeof(void *));

    return p;
}


static void
ngx_async_primes_set_link(ngx_async_primes_prime_t *b,
    ngx_async_primes_prime_t *to)
{
    void  *p;

    p = to;
    memcpy((void *) b, &p, sizeof(void *));
}


/* the block that holds the entries of list t, the last ones */

#define ngx_async_primes_list_block(t)                                        \
    ((ngx_async_primes_prime_t *) ((uintptr_t) ((t) - 1)                     \
                                   & ~(uintptr_t) (NGX_ASYNC_PRIMES_SUM_BLOCK \
                                                   - 1)))


static int
ngx_async_primes_sieve_fill(ngx_async_primes_sieve_t *s)
{
    int       rc;
    size_t    i, k;
    uint8_t   mask;
    uint64_t  x, p;

    if (s->patterns != NULL) {
        ngx_async_primes_presieve(s);

    } else {
        memset(s->seg, 0xff, s->len);
    }

    x = s->base + 30 * s->start;

    if (s->patterns != NULL && x <= NGX_ASYNC_PRIMES_SUM_PRESIEVED) {

        /* the pre-sieved primes struck themselves */

        for (i = 0; i < NGX_ASYNC_PRIMES_SUM_PATTERNS; i++) {
            for (k = 0; ngx_async_primes_groups[i][k] != 0; k++) {
                p = ngx_async_primes_groups[i][k];

                if (p >= x && (p - x) / 30 < s->len) {
                    s->seg[(p - x) / 30] |= (uint8_t)
                                     (1u << ngx_async_primes_index30[p % 30]);
                }
            }
        }
    }

    if (x == 0) {
        /* 1 is not prime */
        s->seg[0] &= 0xfe;
    }

    ngx_async_primes_cross_small(s);

    rc = ngx_async_primes_cross_medium(s);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        return rc;
    }

    if (s->buckets != NULL) {
        rc = ngx_async_primes_cross_large(s);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            return rc;
        }
    }

    /* the window's ends within their bytes */

    if (s->start == 0) {
        mask = 0;

        for (i = 0; i < 8; i++) {
            if (s->base + ngx_async_primes_residues[i] < s->lo) {
                mask |= (uint8_t) (1u << i);
            }
        }

        s->seg[0] &= (uint8_t) ~mask;
    }

    if (s->start + s->len == s->nbytes) {
        x = s->hi - (s->base + 30 * (s->nbytes - 1));
        mask = 0;

        for (i = 0; i < 8; i++) {
            if (ngx_async_primes_residues[i] > x) {
                mask |= (uint8_t) (1u << i);
            }
        }

        s->seg[s->len - 1] &= (uint8_t) ~mask;
    }

    memset(s->seg + s->len, 0, 8);

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/*
 * The segment is the AND of the patterns, 4 at a time: each pattern's
 * offset moves with the segment; a run goes on to the next wrap of any of
 * them.
 */

static void
ngx_async_primes_presieve(ngx_async_primes_sieve_t *s)
{
    size_t                   g, i, j, k, n, len;
    uint8_t                 *seg;
    uint64_t                 first, off[4], period[4];
    const uint8_t           *pat[4];
    ngx_async_primes_v16_t   v, x;

    seg = s->seg;
    len = s->len;
    first = s->base / 30 + s->start;

    for (g = 0; g < NGX_ASYNC_PRIMES_SUM_PATTERNS; g += 4) {

        for (i = 0; i < 4; i++) {
            period[i] = ngx_async_primes_periods[g + i];
            off[i] = first % period[i];
        }

        for (j = 0; j < len; j += n) {
            n = len - j;

            for (i = 0; i < 4; i++) {
                if (period[i] - off[i] < n) {
                    n = (size_t) (period[i] - off[i]);
                }

                pat[i] = s->patterns[g + i] + off[i];
            }

            for (k = 0; k + 16 <= n; k += 16) {
                memcpy(&v, pat[0] + k, 16);
                memcpy(&x, pat[1] + k, 16);
                v &= x;
                memcpy(&x, pat[2] + k, 16);
                v &= x;
                memcpy(&x, pat[3] + k, 16);
                v &= x;

                if (g != 0) {
                    memcpy(&x, seg + j + k, 16);
                    v &= x;
                }

                memcpy(seg + j + k, &v, 16);
            }

            for ( /* void */ ; k < n; k++) {
                seg[j + k] = (uint8_t) ((g != 0 ? seg[j + k] : 0xff)
                                        & pat[0][k] & pat[1][k] & pat[2][k]
                                        & pat[3][k]);
            }

            for (i = 0; i < 4; i++) {
                off[i] += n;

                if (off[i] == period[i]) {
                    off[i] = 0;
                }
            }
        }
    }
}


/*
 * A small prime crosses off its multiples one turn of the wheel, p bytes,
 * at a time: the eight cofactors prime to 30 of a turn lie at fixed
 * distances d[k] from its first byte.  The segment is swept once for each
 * prime rather than once for each residue: with a 64 KiB segment, larger
 * than the first-level cache, the window below 2^64 takes 3 to 5% less
 * time (bench/engine.c).
 */

static void
ngx_async_primes_cross_small(ngx_async_primes_sieve_t *s)
{
    size_t                     i, k;
    uint8_t                   *seg, *t, m[8];
    uint8_t                    m0, m1, m2, m3, m4, m5, m6, m7;
    uint32_t                   wi, w[8];
    uint64_t                   p, q, x, pos, len, d[8];
    uint64_t                   d1, d2, d3, d4, d5, d6, d7;
    ngx_async_primes_prime_t  *e;

    seg = s->seg;
    len = s->len;

    for (i = 0; i < s->nsmall; i++) {
        e = &s->small[i];

        p = e->p;
        q = p / 30;
        pos = e->pos & NGX_ASYNC_PRIMES_SUM_POS_MASK;
        wi = e->pos >> NGX_ASYNC_PRIMES_SUM_POS_BITS;

        /* the next multiple is the first of its turn: d[0] is 0 */

        x = pos;

        for (k = 0; k < 8; k++) {
            d[k] = pos - x;
            m[k] = ngx_async_primes_wheel[wi].mask;
            w[k] = wi;

            pos += q * ngx_async_primes_wheel[wi].dq
                   + ngx_async_primes_wheel[wi].corr;
            wi = (wi & 56) | ((wi + 1) & 7);
        }

        /* in scalars, which the stores to the segment cannot alias */

        d1 = d[1];
        d2 = d[2];
        d3 = d[3];
        d4 = d[4];
        d5 = d[5];
        d6 = d[6];
        d7 = d[7];

        m0 = m[0];
        m1 = m[1];
        m2 = m[2];
        m3 = m[3];
        m4 = m[4];
        m5 = m[5];
        m6 = m[6];
        m7 = m[7];

        for ( /* void */ ; x + d7 < len; x += p) {
            t = seg + x;

            t[0] &= m0;
            t[d1] &= m1;
            t[d2] &= m2;
            t[d3] &= m3;
            t[d4] &= m4;
            t[d5] &= m5;
            t[d6] &= m6;
            t[d7] &= m7;
        }

        /* the turn the segment ends in; its first multiple past is next */

        for (k = 0; x + d[k] < len; k++) {
            seg[x + d[k]] &= m[k];
        }

        e->pos = (uint32_t) (x + d[k] - len)
                 | w[k] << NGX_ASYNC_PRIMES_SUM_POS_BITS;
    }
}


/*
 * One multiple of a medium prime: its wheel index c is a constant, and
 * with it the mask and the step, q * dq + corr, a single LEA.
 */

#define NGX_ASYNC_PRIMES_STRIKE(c)                                            \
    case c:                                                                   \
        if (x >= end) {                                                       \
            wi = c;                                                           \
            goto next;                                                        \
        }                                                                     \
        *x &= ngx_async_primes_wheel[c].mask;                                 \
        x += q * ngx_async_primes_wheel[c].dq + ngx_async_primes_wheel[c].corr;

/* around the wheel for p = ngx_async_primes_residues[j] (mod 30) */

#define NGX_ASYNC_PRIMES_ROUND(j)                                             \
    for ( ;; ) {                                                              \
        NGX_ASYNC_PRIMES_STRIKE(8 * j)                                        \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 1)                                    \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 2)                                    \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 3)                                    \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 4)                                    \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 5)                                    \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 6)                                    \
        __attribute__((fallthrough));                                         \
        NGX_ASYNC_PRIMES_STRIKE(8 * j + 7)                                    \
    }


/*
 * The medium primes of list c all start at wheel index c, so the switch
 * jumps to the same case for a whole list; each ends in the list of the
 * index it stops at, for the next segment.
 */

static int
ngx_async_primes_cross_medium(ngx_async_primes_sieve_t *s)
{
    int                         rc;
    size_t                      i, n;
    uint8_t                    *x, *end;
    unsigned                    c, wi;
    uint64_t                    q;
    ngx_async_primes_prime_t   *t, *e, **lists;

    end = s->seg + s->len;
    lists = s->medium[s->cur ^ 1];

    for (c = 0; c < 64; c++) {
        t = s->medium[s->cur][c];
        s->medium[s->cur][c] = NULL;

        while (t != NULL) {
            e = ngx_async_primes_list_block(t);
            n = t - e;

            for (i = 1; i < n; i++) {
                q = e[i].p;
                x = s->seg + e[i].pos;

                switch (c) {
                NGX_ASYNC_PRIMES_ROUND(0)
                NGX_ASYNC_PRIMES_ROUND(1)
                NGX_ASYNC_PRIMES_ROUND(2)
                NGX_ASYNC_PRIMES_ROUND(3)
                NGX_ASYNC_PRIMES_ROUND(4)
                NGX_ASYNC_PRIMES_ROUND(5)
                NGX_ASYNC_PRIMES_ROUND(6)
                NGX_ASYNC_PRIMES_ROUND(7)
                }

            next:

                rc = ngx_async_primes_push(s, &lists[wi], (uint32_t) q,
                                           (uint32_t) (x - end));
                if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                    return rc;
                }
            }

            t = ngx_async_primes_list_next(s, e);
        }
    }

    s->cur ^= 1;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static int
ngx_async_primes_cross_large(ngx_async_primes_sieve_t *s)
{
    int                              rc;
    size_t                           i, n;
    uint8_t                         *seg;
    uint32_t                         wi;
    uint64_t                         q, pos, target, start, nbytes, size;
    ngx_async_primes_prime_t        *t, *e, **head;
    const ngx_async_primes_wheel_t  *w;

    seg = s->seg;
    start = s->start;
    nbytes = s->nbytes;
    size = (uint64_t) 1 << s->shift;
    head = &s->buckets[s->segno & s->mask];

    /* primes may come back to this very bucket: take it until it is empty */

    while (*head != NULL) {
        t = *head;
        *head = NULL;

        while (t != NULL) {
            e = ngx_async_primes_list_block(t);
            n = t - e;

            for (i = 1; i < n; i++) {
                q = e[i].p;
                pos = e[i].pos & NGX_ASYNC_PRIMES_SUM_POS_MASK;
                wi = e[i].pos >> NGX_ASYNC_PRIMES_SUM_POS_BITS;

                w = &ngx_async_primes_wheel[wi];
                seg[pos] &= w->mask;
                pos += q * w->dq + w->corr;
                wi = (wi & 56) | ((wi + 1) & 7);

                /* its byte from the window's start */

                target = start + pos;

                if (target >= nbytes) {
                    /* no multiple left in the window */
                    continue;
                }

                rc = ngx_async_primes_push(s,
                         &s->buckets[(target >> s->shift) & s->mask],
                         (uint32_t) q,
                         (uint32_t) (pos & (size - 1))
                         | wi << NGX_ASYNC_PRIMES_SUM_POS_BITS);

                if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                    return rc;
                }
            }

            t = ngx_async_primes_list_next(s, e);
        }
    }

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static void
ngx_async_primes_sieve_next(ngx_async_primes_sieve_t *s)
{
    uint64_t  left;

    s->start += s->len;
    s->segno++;

    left = s->nbytes - s->start;

    if (left < s->len) {
        s->len = (size_t) left;
    }
}


/* the last number of the current segment */

static uint64_t
ngx_async_primes_sieve_last(ngx_async_primes_sieve_t *s)
{
    if (s->start + s->len == s->nbytes) {
        return s->hi;
    }

    return s->base + 30 * (s->start + s->len) - 1;
}


static int
ngx_async_primes_source_init(ngx_async_primes_source_t *src, uint64_t limit,
    uint8_t **patterns, int *stop)
{
    int       rc;
    uint64_t  root;

    memset(src, 0, sizeof(ngx_async_primes_source_t));

    src->stop = stop;

    if (limit < 7) {
        /* no batch: no primes */
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    root = ngx_async_primes_isqrt(limit);

    src->tiny = ngx_async_primes_tiny_primes((uint32_t) root, &src->ntiny);
    src->batch = malloc(NGX_ASYNC_PRIMES_SUM_BATCH * sizeof(uint32_t));

    if (src->tiny == NULL || src->batch == NULL) {
        ngx_async_primes_source_free(src);
        return NGX_ASYNC_PRIMES_SUM_NOMEM;
    }

    rc = ngx_async_primes_sieve_init(&src->sieve, 7, limit, root,
                                     NGX_ASYNC_PRIMES_SUM_SOURCE_SHIFT,
                                     patterns);
    if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
        ngx_async_primes_source_free(src);
        return rc;
    }

    return NGX_ASYNC_PRIMES_SUM_OK;
}


static void
ngx_async_primes_source_free(ngx_async_primes_source_t *src)
{
    ngx_async_primes_sieve_free(&src->sieve);
    free(src->tiny);
    free(src->batch);

    src->tiny = NULL;
    src->batch = NULL;
}


/* the next primes into the batch; none past the limit */

static int
ngx_async_primes_source_fill(ngx_async_primes_source_t *src)
{
    int                        rc;
    size_t                     n;
    uint64_t                   last, word, wbase;
    ngx_async_primes_sieve_t  *s;

    s = &src->sieve;
    n = 0;

    src->ibatch = 0;
    src->nbatch = 0;

    if (src->batch == NULL) {
        return NGX_ASYNC_PRIMES_SUM_OK;
    }

    /* whole words, as long as one more surely fits */

    while (n + 64 <= NGX_ASYNC_PRIMES_SUM_BATCH) {

        if (src->w < src->nwords) {
            word = ngx_async_primes_load(s->seg + 8 * src->w);
            wbase = s->base + 30 * s->start + 240 * src->w;
            src->w++;

            while (word != 0) {
                src->batch[n++] = (uint32_t) (wbase
                          + ngx_async_primes_bit_value[__builtin_ctzll(word)]);
                word &= word - 1;
            }

            continue;
        }

        if (s->segno >= s->nsegs) {
            break;
        }

        if (src->filled) {
            ngx_async_primes_sieve_next(s);
            src->filled = 0;

            if (s->segno >= s->nsegs) {
                break;
            }
        }

        if (ngx_async_primes_stopped(src->stop)) {
            return NGX_ASYNC_PRIMES_SUM_STOPPED;
        }

        last = ngx_async_primes_sieve_last(s);

        while (src->added < src->ntiny
               && (uint64_t) src->tiny[src->added] * src->tiny[src->added]
                  <= last)
        {
            rc = ngx_async_primes_sieve_add(s, src->tiny[src->added++]);
            if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
                return rc;
            }
        }

        rc = ngx_async_primes_sieve_fill(s);
        if (rc != NGX_ASYNC_PRIMES_SUM_OK) {
            return rc;
        }

        src->filled = 1;
        src->w = 0;
        src->nwords = (s->len + 7) / 8;
    }

    src->nbatch = n;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/* the primes from 7 to limit (at most 2^16) by a plain sieve */

static uint32_t *
ngx_async_primes_tiny_primes(uint32_t limit, size_t *n)
{
    size_t     i, j, k, size;
    uint8_t   *composite;
    uint32_t  *primes;

    /* index i stands for 2 * i + 1 */

    size = ((size_t) limit + 1) / 2;

    composite = calloc(size + 1, 1);
    if (composite == NULL) {
        return NULL;
    }

    primes = malloc(ngx_async_primes_pi_bound(limit) * sizeof(uint32_t));
    if (primes == NULL) {
        free(composite);
        return NULL;
    }

    k = 0;

    for (i = 1; i < size; i++) {

        if (composite[i]) {
            continue;
        }

        if (2 * i + 1 >= 7) {
            primes[k++] = (uint32_t) (2 * i + 1);
        }

        for (j = 2 * i * (i + 1); j < size; j += 2 * i + 1) {
            composite[j] = 1;
        }
    }

    free(composite);

    *n = k;

    return primes;
}


/*
 * The count of the survivors and the sum of their offsets from the
 * segment's first number, a byte at a time through a table: no branch
 * to mispredict, whatever the density.
 */

static void
ngx_async_primes_segment_sum(const uint8_t *seg, size_t len, uint64_t *cnt,
    uint64_t *offs)
{
    size_t    j;
    uint32_t  t, c;
    uint64_t  n, res, idx;

    n = 0;
    res = 0;
    idx = 0;

    for (j = 0; j < len; j++) {
        t = ngx_async_primes_byte_sum[seg[j]];
        c = t & 15;

        n += c;
        res += t >> 4;
        idx += j * c;
    }

    *cnt = n;
    *offs = 30 * idx + res;
}


/*
 * Survivors above square may be composite: Miller-Rabin decides, a few
 * microseconds each, so the stop flag and the progress are seen to every
 * NGX_ASYNC_PRIMES_SUM_MR_CHECK tests.
 */

static int
ngx_async_primes_segment_test(const uint8_t *seg, size_t len, uint64_t n0,
    uint64_t square, ngx_async_primes_uint128_t *total,
    ngx_async_primes_sum_ctx_t *ctx, uint64_t a)
{
    size_t                       i, tests;
    uint64_t                     w, n;
    ngx_async_primes_uint128_t   sum;

    sum = 0;
    tests = 0;

    for (i = 0; i < len; i += 8, n0 += 240) {
        w = ngx_async_primes_load(seg + i);

        while (w != 0) {
            n = n0 + ngx_async_primes_bit_value[__builtin_ctzll(w)];
            w &= w - 1;

            if (n <= square) {
                sum += n;
                continue;
            }

            if (++tests % NGX_ASYNC_PRIMES_SUM_MR_CHECK == 0 && ctx != NULL) {

                if (ngx_async_primes_stopped(&ctx->stop)) {
                    return NGX_ASYNC_PRIMES_SUM_STOPPED;
                }

                /* the numbers below n are done */
                ngx_async_primes_progress(ctx, n - a);
            }

            if (ngx_async_primes_mr(n)) {
                sum += n;
            }
        }
    }

    *total += sum;

    return NGX_ASYNC_PRIMES_SUM_OK;
}


/* 8 bytes as a little-endian word: bit 8 * i + k is bit k of byte i */

static uint64_t
ngx_async_primes_load(const uint8_t *p)
{
    return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16
           | (uint64_t) p[3] << 24 | (uint64_t) p[4] << 32
           | (uint64_t) p[5] << 40 | (uint64_t) p[6] << 48
           | (uint64_t) p[7] << 56;
}


static int
ngx_async_primes_stopped(int *stop)
{
    return stop != NULL && __atomic_load_n(stop, __ATOMIC_RELAXED);
}


static void
ngx_async_primes_progress(ngx_async_primes_sum_ctx_t *ctx, uint64_t done)
{
    __atomic_store_n(&ctx->done, done, __ATOMIC_RELAXED);
}


uint64_t
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
 * Whether x = base^d (Montgomery form) passes the strong test: it is 1 or
 * -1, or squaring it at most s - 1 times reaches -1.
 */

static inline int
ngx_async_primes_mr_strong(uint64_t x, int s, uint64_t one, uint64_t mone,
    uint64_t n, uint64_t ninv)
{
    int  r;

    if (x == one || x == mone) {
        return 1;
    }

    for (r = 1; r < s; r++) {
        x = ngx_async_primes_mont_mul(x, x, n, ninv);

        if (x == mone) {
            return 1;
        }
    }

    return 0;
}


/*
 * Strong probable prime tests of an odd n > 3721 with no factor up to 61:
 * to the bases 2, 7 and 61 below 2^32 (Jaeschke: deterministic below
 * 4759123141), else to 2 and the six other bases of Jim Sinclair's set,
 * deterministic below 2^64.  Arithmetic in Montgomery form, R = 2^64.  A
 * composite nearly always fails base 2, whose multiplications are mere
 * doublings; the other bases go three at a time, their chains of
 * multiplications independent so that they overlap in the pipeline.
 */

static int
ngx_async_primes_mr(uint64_t n)
{
    int                      s, bit, k, g, groups, nb;
    uint64_t                 d, ninv, one, mone, r2, x, bx[3], am[3];
    const uint64_t          *bases;
    ngx_async_primes_u128_t  t;

    static const uint64_t  sinclair[6] = {
        325, 9375, 28178, 450775, 9780504, 1795265022
    };

    static const uint64_t  jaeschke[3] = { 7, 61, 7 };

    s = __builtin_ctzll(n - 1);
    d = (n - 1) >> s;

    /* n * ninv = 1 (mod 2^64): Newton's steps double the bits from 3 */

    ninv = n;

    for (k = 0; k < 5; k++) {
        ninv *= 2 - n * ninv;
    }

    /* 1 and -1 in Montgomery form, and R^2 mod n to convert the bases */

    one = (uint64_t) (0 - n) % n;
    mone = n - one;
    t = (ngx_async_primes_u128_t) one * one;
    r2 = (uint64_t) (t % n);

    /* base 2, from 2 = one + one, multiplications by 2 being doublings */

    bit = 63 - __builtin_clzll(d);
    x = (one >= n - one) ? one - (n - one) : one + one;

    for (bit--; bit >= 0; bit--) {
        x = ngx_async_primes_mont_mul(x, x, n, ninv);

        if ((d >> bit) & 1) {
            x = (x >= n - x) ? x - (n - x) : x + x;
        }
    }

    if (!ngx_async_primes_mr_strong(x, s, one, mone, n, ninv)) {
        return 0;
    }

    if (n >> 32) {
        bases = sinclair;
        groups = 2;
        nb = 3;

    } else {
        bases = jaeschke;
        groups = 1;
        nb = 2;
    }

    for (g = 0; g < groups; g++) {

        for (k = 0; k < 3; k++) {
            am[k] = ngx_async_primes_mont_mul(bases[3 * g + k] % n, r2, n,
                                              ninv);
            bx[k] = am[k];
        }

        for (bit = 62 - __builtin_clzll(d); bit >= 0; bit--) {
            for (k = 0; k < 3; k++) {
                bx[k] = ngx_async_primes_mont_mul(bx[k], bx[k], n, ninv);
            }

            if ((d >> bit) & 1) {
                for (k = 0; k < 3; k++) {
                    bx[k] = ngx_async_primes_mont_mul(bx[k], am[k], n, ninv);
                }
            }
        }

        for (k = 0; k < nb; k++) {
            if (!ngx_async_primes_mr_strong(bx[k], s, one, mone, n,
                                            ninv))
            {
                return 0;
            }
        }
    }

    return 1;
}


/* a * b / 2^64 (mod n), for a, b < n, n odd, ninv = 1 / n (mod 2^64) */

static uint64_t
ngx_async_primes_mont_mul(uint64_t a, uint64_t b, uint64_t n, uint64_t ninv)
{
    uint64_t                 lo, hi, m, mh;
    ngx_async_primes_u128_t  t;

    t = (ngx_async_primes_u128_t) a * b;
    lo = (uint64_t) t;
    hi = (uint64_t) (t >> 64);

    /* t - m * n is 0 mod 2^64: the low halves cancel, no borrow */

    m = lo * ninv;
    mh = (uint64_t) (((ngx_async_primes_u128_t) m * n) >> 64);

    return (hi >= mh) ? hi - mh : hi - mh + n;
}
