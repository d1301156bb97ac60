
/*
 * Copyright (C) The ngx_async_primes authors
 */


#ifndef _NGX_ASYNC_PRIMES_SUM_INTERNAL_H_INCLUDED_
#define _NGX_ASYNC_PRIMES_SUM_INTERNAL_H_INCLUDED_


#include "ngx_async_primes_sum.h"


/*
 * The methods ngx_async_primes_sum() chooses between, exposed for the unit
 * tests and the benchmarks, which force each one to check them against
 * each other; the server only uses the public header.
 */

typedef enum {
    /* the cheapest by ngx_async_primes_sum_cost()'s model */
    NGX_ASYNC_PRIMES_SUM_AUTO = 0,
    /* the segmented sieve with every prime up to isqrt(b) */
    NGX_ASYNC_PRIMES_SUM_SIEVE,
    /* sieving by the primes up to 2^16, then Miller-Rabin */
    NGX_ASYNC_PRIMES_SUM_MR,
    /* S(b) - S(a - 1) */
    NGX_ASYNC_PRIMES_SUM_PREFIX
} ngx_async_primes_sum_method_e;


int ngx_async_primes_sum_method(uint64_t a, uint64_t b,
    ngx_async_primes_sum_method_e method, ngx_async_primes_uint128_t *sum,
    ngx_async_primes_sum_ctx_t *ctx);

/* the method NGX_ASYNC_PRIMES_SUM_AUTO runs for [a, b] */
ngx_async_primes_sum_method_e ngx_async_primes_sum_pick(uint64_t a,
    uint64_t b);

/* the model's estimate for one method, microseconds */
uint64_t ngx_async_primes_sum_method_cost(uint64_t a, uint64_t b,
    ngx_async_primes_sum_method_e method);

/* deterministic for every 64-bit n */
int ngx_async_primes_is_prime(uint64_t n);

/* floor(sqrt(n)), exact for every 64-bit n; shared with the prefix sums */
uint64_t ngx_async_primes_isqrt(uint64_t n);

/*
 * The wheel of the numbers prime to 30, shared with the prefix sums: for k
 * modulo 30, the place of k among them (8 if k is not prime to 30) and
 * what to add to k to reach the next one.
 */
extern const uint8_t  ngx_async_primes_index30[30];
extern const uint8_t  ngx_async_primes_next30[30];


#endif /* _NGX_ASYNC_PRIMES_SUM_INTERNAL_H_INCLUDED_ */
